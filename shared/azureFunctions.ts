/**
 * `@azure/functions` is CommonJS whose named exports Node's ESM loader cannot detect; reading them
 * off the default export works under the Functions worker, esbuild, vitest and tsx alike.
 */
import azureFunctions from '@azure/functions';

export const { app, HttpRequest, HttpResponse, InvocationContext } = azureFunctions;
