import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

/**
 * The line an error path points at in YAML source. Follows the path through the AST as far as it exists: a
 * missing key resolves to the line of the nearest enclosing node that does exist, which is where the author
 * has to add it. A map entry resolves to its key's line, since a block value starts on the line below.
 */
export function yamlLineOf(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
): number | undefined {
  const lineOfNode = (n: unknown): number | undefined => {
    const range = (n as Node | null)?.range;
    return range ? lineCounter.linePos(range[0]).line : undefined;
  };
  let node: unknown = doc.contents;
  let line = lineOfNode(node);
  for (const seg of path) {
    // Aliases are followed so an error inside a reused anchor lands on the anchor's definition.
    for (let i = 0; i < 10 && isAlias(node); i++) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return line;
      line = lineOfNode(pair.key) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) return line;
      line = lineOfNode(item) ?? line;
      node = item;
    } else {
      return line;
    }
  }
  return line;
}
