// Node resolve hook: project-parsing-lib downloads its component schemas over HTTP with an account;
// pointing its HTTP module at schema-stub.mjs runs the library's real checks offline.
const STUB = new URL('./schema-stub.mjs', import.meta.url).href;

export async function resolve(specifier, context, next) {
  return specifier === '@hubspot/local-dev-lib/http'
    ? { url: STUB, shortCircuit: true }
    : next(specifier, context);
}
