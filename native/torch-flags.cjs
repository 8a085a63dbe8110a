// Prints the compiler/linker flags for the libtorch to build against, for binding.gyp.
// LIBTORCH=/dir (include/ and lib/) picks one; the default is Debian's libtorch-dev under /usr.
const fs = require('node:fs');
const path = require('node:path');

const root = process.env.LIBTORCH || '/usr';
const debian = root === '/usr';
const lib = debian ? path.join('/usr/lib', multiarch()) : path.join(root, 'lib');
const include = path.join(root, 'include');
const what = process.argv[2];

/** Debian's library folder name for this machine (x86_64-linux-gnu, aarch64-linux-gnu, …). */
function multiarch() {
  const { execFileSync } = require('node:child_process');
  for (const [command, args] of [['dpkg-architecture', ['-qDEB_HOST_MULTIARCH']], ['gcc', ['-print-multiarch']]]) {
    try {
      const name = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      if (name) return name;
    } catch {
      // try the next way
    }
  }
  return `${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
}

if (!fs.existsSync(path.join(include, 'ATen', 'ATen.h'))) {
  console.error(`libtorch not found: ${path.join(include, 'ATen', 'ATen.h')} is missing (LIBTORCH=${root})`);
  process.exit(1);
}

if (what === 'include') {
  // -I/usr/include would break libstdc++'s #include_next, and it is searched anyway.
  const dirs = debian ? [] : [include];
  console.log([...dirs, path.join(include, 'torch', 'csrc', 'api', 'include')].join(' '));
} else if (what === 'libs') {
  const libs = [`-L${lib}`, `-Wl,-rpath,${lib}`, '-Wl,--no-as-needed', '-ltorch', '-ltorch_cpu', '-lc10'];
  // Debian's libtorch links the system Gloo (c10d's CPU collectives); pip wheels carry their own inside libtorch_cpu.
  if (debian) libs.push('-lgloo');
  // A CUDA libtorch registers its kernels from these; they must stay linked though unreferenced.
  for (const name of ['torch_cuda', 'c10_cuda']) {
    if (fs.existsSync(path.join(lib, `lib${name}.so`))) libs.push(`-l${name}`);
  }
  libs.push('-Wl,--as-needed');
  console.log(libs.join(' '));
} else if (what === 'abi') {
  // The C++ ABI libtorch was built with (older pip wheels use the old one): TorchConfig.cmake
  // records it in TORCH_CXX_FLAGS; TORCH_CXX11_ABI=0|1 overrides.
  const configs = [path.join(root, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'), path.join(lib, 'cmake', 'Torch', 'TorchConfig.cmake')];
  const recorded = configs
    .filter((file) => fs.existsSync(file))
    .map((file) => /_GLIBCXX_USE_CXX11_ABI=(\d)/.exec(fs.readFileSync(file, 'utf8'))?.[1])
    .find((abi) => abi !== undefined);
  console.log(process.env.TORCH_CXX11_ABI ?? recorded ?? '1');
} else if (what === 'defines') {
  // c10d's Gloo process group needs Gloo's headers (Debian: libgloo-dev); without them the addon
  // builds without data parallel and says so when asked for it.
  const gloo = [path.join(include, 'gloo', 'context.h'), '/usr/include/gloo/context.h'].some((file) => fs.existsSync(file));
  console.log(gloo ? 'USE_C10D_GLOO' : 'WORLDWANDER_NO_GLOO');
} else {
  console.error('usage: torch-flags.cjs include|libs|abi|defines');
  process.exit(2);
}
