// Copies non-TypeScript assets (OMA DDF XML models) next to the compiled output.
import { cpSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(root, 'src', 'model', 'models');
const to = join(root, 'dist', 'src', 'model', 'models');
mkdirSync(to, { recursive: true });
cpSync(from, to, { recursive: true });
