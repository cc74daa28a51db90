#!/usr/bin/env node
// The CLI is TypeScript run as-is (no build step in this repo): register tsx's loader, then load the entry point.
import { register } from 'tsx/esm/api';

register();
await import(new URL('../src/cli.ts', import.meta.url).href);
