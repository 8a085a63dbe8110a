// LoRA files for the transformer: the release's Lightning .ckpt (tensors under state_dict.lora,
// read by the restricted unpickler: nothing in the file runs) or a .safetensors (PEFT, diffusers
// or bare names).
import path from 'node:path';

import { FileFormatError } from '../errors.js';
import {
  SafetensorsFile,
  isTorchCheckpoint,
  TensorRef,
  TorchCheckpoint,
  describePickled,
  owned,
  saveSafetensors,
  type Tensor,
  type TensorSource,
} from '../torch/index.js';
import { communityLoraSource } from '../models/wan/lora_formats.js';
import { loadLora, normaliseLoraKey, type LoraLoadReport } from '../nn/index.js';
import type { Module } from '../nn/index.js';

/** Globals that checkpoints of PyTorch Lightning and OmegaConf name in their hyper-parameters and loop state. */
const FAMILIAR =
  /^(omegaconf|pytorch_lightning|lightning|lightning_fabric|torch|typing|pathlib|collections|numpy|_codecs|builtins\.(dict|list|tuple|object|int|float|str|bool|type))\b/;

export interface LoraSource {
  source: TensorSource & { metadata?: Record<string, string> };
  /** Globals the file names that are not familiar (each recorded, none run): worth a warning. */
  unfamiliarGlobals: string[];
}

export function openLoraFile(file: string): LoraSource {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.safetensors')
    return { source: communityLoraSource(SafetensorsFile.open(file), file), unfamiliarGlobals: [] };
  if (ext !== '.ckpt' && ext !== '.pt' && ext !== '.pth')
    throw new FileFormatError(`${file}: a LoRA file is a .ckpt (the release's) or a .safetensors`);
  const ckpt = TorchCheckpoint.open(file);
  if (!(ckpt.value instanceof Map))
    throw new FileFormatError(
      `${file}: the checkpoint's top-level object is ${describePickled(ckpt.value)}, not a dict; refused`,
    );
  const stateDict = ckpt.value.get('state_dict');
  const at =
    stateDict instanceof Map && stateDict.get('lora') instanceof Map
      ? ['state_dict', 'lora']
      : stateDict instanceof Map
        ? ['state_dict']
        : [];
  // an entry of the LoRA dict (or a LoRA-named one) that is not a tensor is refused, never skipped
  const dict = at.reduce<unknown>((node, key) => (node as Map<unknown, unknown>).get(key), ckpt.value) as Map<
    unknown,
    unknown
  >;
  for (const [key, value] of dict) {
    if (value instanceof TensorRef || (at.at(-1) !== 'lora' && (typeof key !== 'string' || !normaliseLoraKey(key))))
      continue;
    throw new FileFormatError(
      `${file}: ${[...at, String(key)].join('.')} is ${describePickled(value)}, not a tensor; a LoRA entry must be one (refused)`,
    );
  }
  return {
    source: ckpt.tensorsAt(at),
    unfamiliarGlobals: [...ckpt.standIns].filter((name) => !FAMILIAR.test(name)).sort(),
  };
}

/** Loads a LoRA file into the model (adapters attached with the file's rank). */
export function loadLoraFile(
  model: Module,
  file: string,
  { alpha }: { alpha?: number } = {},
): LoraLoadReport & { unfamiliarGlobals: string[] } {
  const { source, unfamiliarGlobals } = openLoraFile(file);
  return { ...loadLora(model, source, { alpha, where: file }), unfamiliarGlobals };
}

/**
 * The release's .ckpt → a .safetensors of its LoRA tensors under the names `saveLora` writes
 * (`transformer.blocks.0.attn1.to_q.lora_A.weight`), dtypes kept, rank and alpha (= rank, as the
 * release trains) in the metadata. Returns what was written.
 */
export function convertCheckpoint(
  input: string,
  output: string,
): { tensors: number; rank: number; unfamiliarGlobals: string[] } {
  const { source, unfamiliarGlobals } = openLoraFile(input);
  using tensors = owned(new Map<string, Tensor>());
  let rank = 0;
  for (const key of source.keys()) {
    const parsed = normaliseLoraKey(key);
    if (!parsed) continue;
    const t = source.get(key);
    tensors.set(`transformer.${parsed.module}.${parsed.part}.weight`, t);
    if (parsed.part === 'lora_A') rank = t.size(0);
  }
  if (tensors.size === 0)
    throw new FileFormatError(
      `${input}: no LoRA tensors (keys like '<module>.lora_A.default.weight') in the checkpoint`,
    );
  saveSafetensors(output, tensors, {
    format: 'pt',
    lora_rank: String(rank),
    lora_alpha: String(rank),
    source: path.basename(input),
  });
  return { tensors: tensors.size, rank, unfamiliarGlobals };
}

/**
 * Whether a weights file is a LoRA (LoRA-named keys, or the release's .ckpt with state_dict.lora)
 * rather than model weights.
 */
export function isLoraFile(file: string): boolean {
  const source = isTorchCheckpoint(file) ? null : SafetensorsFile.open(file);
  if (source) return source.keys().some((k) => /(^|[._])lora_(A|B|up|down)([._]|$)/.test(k));
  const value = TorchCheckpoint.open(file).value;
  const stateDict = value instanceof Map ? value.get('state_dict') : undefined;
  return stateDict instanceof Map && stateDict.get('lora') instanceof Map;
}
