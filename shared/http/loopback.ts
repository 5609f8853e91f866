/** A host name on the machine itself: `localhost`, `127.x.x.x` or `[::1]` (as `URL.hostname` gives it). */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}
