// One storage account for the Functions host (blob: deployment package, timers' leases), the
// audit table and the queue of asynchronous work. Shared-key access is disabled: everything uses
// the managed identity.
param name string
param location string
param tags object = {}
param deploymentContainerName string
param auditTableName string
@description('Queue of asynchronous work, read by the queue-triggered functions (asyncWorkQueueName in shared/storage/queue.ts).')
param asyncWorkQueueName string = 'async-work'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource auditTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: auditTableName
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource asyncWorkQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: asyncWorkQueueName
}

// Where the Functions host moves a message that failed maxDequeueCount times (host.json). The host
// would create it on first use; declared here so it exists to be watched (alerts, tooling).
resource asyncWorkPoisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: '${asyncWorkQueueName}-poison'
}

output name string = storage.name
// Without a trailing slash: the app appends paths to these.
output blobServiceUri string = 'https://${storage.name}.blob.${environment().suffixes.storage}'
output queueServiceUri string = 'https://${storage.name}.queue.${environment().suffixes.storage}'
output tableServiceUri string = 'https://${storage.name}.table.${environment().suffixes.storage}'
output auditTableName string = auditTable.name
output asyncWorkQueueName string = asyncWorkQueue.name
