// The tensor engine: libtorch through a Node-API addon, with PyTorch's names in camelCase.
export { Tensor, type Device, type Dims } from './tensor.js';
export { type DType, itemSize, isFloating } from './dtype.js';
export { Generator } from './generator.js';
export * from './creation.js';
export * from './functional.js';
export { noGrad, enableGrad, isGradEnabled, backward, autocast } from './autograd.js';
export { scope, keep, consume, owned } from './scope.js';
export { callAten, atenSchema } from './call_aten.js';
export { hasAten } from './aten.js';
export {
  engineInfo,
  loadedBlas,
  blasKindOf,
  type BlasKind,
  setNumThreads,
  cudaIsAvailable,
  checkDevice,
  synchronize,
  memoryStats,
  resetPeakMemory,
  emptyCache,
  yieldToEventLoop,
  type EngineInfo,
} from './runtime.js';
export type { MemoryStats } from './native.js';
export { hasFastBf16 } from './cpu_features.js';
export * from './safetensors.js';
export * from './float8.js';
export { readJsonFile } from './json_file.js';
export { TorchCheckpoint, TensorRef, describePickled } from './torch_checkpoint.js';
export { openTensorFile, isTorchCheckpoint, renamedByTable } from './tensor_file.js';
export { unpickle, StandIn, StandInCall, type UnpickleResult } from './pickle.js';
export { ProcessGroup } from './process_group.js';
export { ScriptModule, type ScriptValue } from './script_module.js';
