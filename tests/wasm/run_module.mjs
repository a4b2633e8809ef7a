// Run a generated MicroPython module on the WebAssembly port under node:
//   node run_module.mjs MODULE.py "python statements"
// The module is written into the port's in-memory file system and the statements run after it.
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import fs from "fs";
import path from "path";

const [modulePath, statements] = process.argv.slice(2);
const mp = await loadMicroPython({ heapsize: 32 * 1024 * 1024, stdout: (line) => process.stdout.write(line + "\n") });
mp.FS.writeFile("/" + path.basename(modulePath), fs.readFileSync(modulePath));
mp.runPython("import sys\nsys.path.append('/')\n" + statements);
