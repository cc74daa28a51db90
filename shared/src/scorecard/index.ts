export * from './types';
export * from './week';
export * from './stats';
export * from './compute';
export * from './format';
export * from './cycle-time';
export * from './funnel';
export * from './classed-rows';
