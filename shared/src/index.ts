export * from './playbook/schema';
export * from './playbook/duration';
export * from './properties';
export * from './engine';
export * from './clock';
