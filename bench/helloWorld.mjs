// The cold start baseline: a hello-world Azure Functions app as one writes it, one HTTP function,
// @azure/functions loaded from node_modules. The benchmark also loads it bundled like the facade.
import azureFunctions from '@azure/functions';

azureFunctions.app.http('hello', {
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async () => ({ body: 'Hello, world' }),
});
