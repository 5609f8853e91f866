import { publicBaseUrlFrom, type Environment } from '../config';
import { isLoopbackHost } from './loopback';

/**
 * Where callers reach the API, for what the app hands out that points back at itself (the
 * OpenAPI documents' server, a next page's link): `PUBLIC_BASE_URL`, else the app's own host name
 * in Azure (`WEBSITE_HOSTNAME`). The request's host (its `Host` header, which anyone can send) is
 * named only when it is loopback (the local host); otherwise no host at all, and a client uses the
 * one it called.
 */
export interface PublicLocation {
  /** `host[:port]`. */
  host?: string;
  scheme?: 'https' | 'http';
  /** Path the API is published under before `/api` (a gateway's), e.g. `/connectors`. */
  pathPrefix?: string;
}

export function publicLocationOf(requestUrl: string, env: Environment = process.env): PublicLocation {
  const published = publicBaseUrlFrom(env);
  if (published) {
    const pathPrefix = published.pathname.replace(/\/+$/, '');
    return { host: published.host, scheme: published.protocol === 'http:' ? 'http' : 'https', ...(pathPrefix ? { pathPrefix } : {}) };
  }
  const url = new URL(requestUrl);
  if (isLoopbackHost(url.hostname)) return { host: url.host, scheme: url.protocol === 'http:' ? 'http' : 'https' };
  return {};
}

/**
 * A link to `pathAndQuery` (the request's own path, `/api/…`) as callers reach it: absolute when
 * the location is known, else relative to the host the caller called.
 */
export function publicLinkTo(location: PublicLocation, pathAndQuery: string): string {
  const path = `${location.pathPrefix ?? ''}${pathAndQuery}`;
  return location.host ? `${location.scheme ?? 'https'}://${location.host}${path}` : path;
}
