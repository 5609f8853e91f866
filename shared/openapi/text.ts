/** Wording rules of Power Platform connectors (summary sentence case, x-ms-summary title case). */

const acronyms: Record<string, string> = { id: 'ID', ids: 'IDs', url: 'URL', urls: 'URLs', odata: 'OData', uri: 'URI', http: 'HTTP' };

/** Words title case leaves in lower case unless they come first or last. */
export const minorWords = new Set(['a', 'an', 'and', 'as', 'at', 'by', 'for', 'in', 'of', 'on', 'or', 'the', 'to']);

/**
 * `authorizedAppIds` → `Authorized App IDs`, `@odata.type` → `OData Type`, `urlToItemResolvers` →
 * `URL to Item Resolvers`, `$skiptoken` → `Skip Token`.
 */
export function titleCase(name: string): string {
  const words = name
    .replace(/^\$skiptoken$/i, 'skipToken')
    .replace(/[@._$-]+/g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .trim()
    .split(/\s+/)
    .map((word) => word.toLowerCase());
  return words
    .map((word, index) => {
      if (acronyms[word]) return acronyms[word];
      if (index > 0 && index < words.length - 1 && minorWords.has(word)) return word;
      return word.charAt(0).toUpperCase() + word.slice(1);
    })
    .join(' ');
}

/** `createExternalGroupMember` → `Create external group member` (fallback summary). */
export function sentenceFromName(name: string): string {
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** `createExternalGroup` → `CreateExternalGroup`. */
export function pascalCase(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
