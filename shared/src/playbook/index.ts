export * from './schema';
export * from './duration';
export * from './load';
export * from './property-uses';
export * from './load-file';
export * from './json-schema';
export * from './examples';
export * from './to-yaml';
