// Loads an ES module from CommonJS: vega and vega-lite 6 are ESM-only, and both tslab's
// compiler and TypeScript's CommonJS output would turn a plain import() into require().
module.exports = (specifier) => import(specifier);
