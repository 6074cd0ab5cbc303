// Files the built package needs at run time besides compiled JavaScript (e.g. .proto, web page assets).
import { cpSync, existsSync } from 'node:fs';

for (const dir of ['src/runtime/proto', 'src/api/public']) {
  if (existsSync(dir)) cpSync(dir, `dist/${dir}`, { recursive: true });
}
