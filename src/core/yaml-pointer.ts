/**
 * JSON pointers (RFC 6901) into a parsed `yaml` Document, so a validation error found on the plain value
 * can be reported at the line and column of the node it is about.
 */
import { isMap, isPair, isScalar, isSeq, type Document, type Node as YamlNode } from 'yaml';

/** One reference token, escaped (RFC 6901 §3: `~` → `~0`, `/` → `~1`). */
export function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** One reference token, unescaped (RFC 6901 §4: `~1` first, then `~0`). */
export function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

/**
 * The node `pointer` leads to in `doc`, or with `atKey` the key node of its map entry. When the pointer
 * goes further than the document: the deepest node that exists (whatever `atKey`).
 */
export function yamlNodeAt(doc: Document, pointer: string, atKey = false): YamlNode | undefined {
  let node: unknown = doc.contents;
  let keyNode: unknown;
  const segments = pointer === '' ? [] : pointer.split('/').slice(1).map(unescapePointer);
  for (const seg of segments) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === seg);
      if (!pair) return node as YamlNode;
      keyNode = pair.key;
      node = pair.value ?? pair.key;
    } else if (isSeq(node)) {
      const item: unknown = node.items[Number(seg)];
      if (item === undefined || item === null) return node as YamlNode;
      keyNode = undefined;
      node = item;
    } else {
      break;
    }
  }
  return (atKey && keyNode !== undefined ? keyNode : node) as YamlNode | undefined;
}
