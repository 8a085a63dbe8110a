// One weights file, whatever wrote it: safetensors (a file or a sharded index), or a PyTorch
// checkpoint (`torch.save` of a state dict: the original Wan release's `.pth` files, a Lightning
// `.ckpt`). Told apart by their first bytes, not their names; a checkpoint's tensors are taken
// from its top-level dict, or from the `state_dict` / `model` / `module` dict it wraps them in.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';

import { FileFormatError } from '../errors.js';
import { openWeights, renamedSource, type TensorSource } from './safetensors.js';
import { TensorRef, TorchCheckpoint } from './torch_checkpoint.js';

const ZIP_MAGIC = 0x04034b50;
const PICKLE_PROTOCOL = 0x80;
const WRAPPERS = ['state_dict', 'model', 'module'];

function firstBytes(file: string, count: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(count);
    readSync(fd, head, 0, count, 0);
    return head;
  } finally {
    closeSync(fd);
  }
}

/**
 * Whether `file` is a PyTorch checkpoint (zip or legacy torch.save format) rather than safetensors.
 * A safetensors file starts with its header's length (u64) and the header's '{'; its first byte
 * can be a pickle's 0x80, so that is looked at first.
 */
export function isTorchCheckpoint(file: string): boolean {
  const head = firstBytes(file, 9);
  if (head[8] === 0x7b && head.readBigUInt64LE(0) < BigInt(statSync(file).size)) return false;
  return head.readUInt32LE(0) === ZIP_MAGIC || head[0] === PICKLE_PROTOCOL;
}

/** The tensors of a weights file (safetensors or a PyTorch checkpoint's state dict). */
export function openTensorFile(file: string): TensorSource {
  if (!existsSync(file)) throw new FileFormatError(`${file} does not exist`);
  if (statSync(file).isDirectory())
    throw new FileFormatError(
      `${file} is a folder; expected one weights file (.safetensors, a safetensors index, or a PyTorch .pth/.pt/.ckpt)`,
    );
  if (file.endsWith('.index.json') || !isTorchCheckpoint(file)) return openWeights(file);
  const checkpoint = TorchCheckpoint.open(file);
  const top = checkpoint.value;
  if (!(top instanceof Map)) throw new FileFormatError(`${file}: the checkpoint holds no dict of tensors`);
  const hasTensors = (m: Map<unknown, unknown>): boolean => [...m.values()].some((v) => v instanceof TensorRef);
  const path = hasTensors(top)
    ? []
    : WRAPPERS.filter((k) => top.get(k) instanceof Map && hasTensors(top.get(k) as Map<unknown, unknown>)).slice(0, 1);
  if (!hasTensors(top) && path.length === 0)
    throw new FileFormatError(
      `${file}: the checkpoint holds no tensors at its top level nor under ${WRAPPERS.join(', ')}`,
    );
  return checkpoint.tensorsAt(path);
}

/**
 * `source` under the names `nameOf` gives each key (after `prefix`, stripped); an error names the
 * keys it has no name for (never a silent skip) and two keys given one name.
 */
export function renamedByTable(
  source: TensorSource,
  nameOf: (key: string) => string | undefined,
  where: string,
  { prefix = '', layout }: { prefix?: string; layout: string },
): TensorSource {
  const names = new Map<string, string>();
  const unknown: string[] = [];
  for (const key of source.keys()) {
    const name = nameOf(key.slice(prefix.length));
    if (name === undefined) unknown.push(key);
    else if (names.has(name)) throw new FileFormatError(`${where}: ${names.get(name)} and ${key} both map to ${name}`);
    else names.set(name, key);
  }
  if (unknown.length)
    throw new FileFormatError(
      `${where}: ${unknown.length} key(s) of the ${layout} layout have no diffusers name here: ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''}`,
    );
  return renamedSource(source, names, `${where} (${layout} layout)`);
}
