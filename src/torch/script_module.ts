// A TorchScript module (what torch.jit.save writes) run by libtorch's interpreter: for networks
// users hold only in that form, such as the I3D of FVD (StyleGAN-V's i3d_torchscript.pt).
import { existsSync } from 'node:fs';
import { FileFormatError } from '../errors.js';
import { native, type NativeScriptModule } from './native.js';
import { Tensor, type Device } from './tensor.js';

/** What forward takes besides tensors: TorchScript's bool, int, float and str. */
export type ScriptValue = Tensor | boolean | number | string;

export class ScriptModule {
  private constructor(
    private readonly module: NativeScriptModule,
    readonly file: string,
  ) {}

  /** torch.jit.load(file, map_location=device), in eval mode. */
  static load(file: string, device: Device = 'cpu'): ScriptModule {
    if (!existsSync(file)) throw new FileFormatError(`${file} does not exist`);
    try {
      return new ScriptModule(new native.ScriptModule(file, device), file);
    } catch (error) {
      throw new FileFormatError(
        `${file}: not a TorchScript module libtorch can load (what torch.jit.save writes): ${(error as Error).message.split('\n')[0]}`,
      );
    }
  }

  /** module(*args, **kwargs): a tensor, or the tensors of a tuple or list. */
  forward(args: readonly ScriptValue[], kwargs: Record<string, ScriptValue> = {}): Tensor | Tensor[] {
    const unwrap = (v: ScriptValue) => (v instanceof Tensor ? v.handle : v);
    const out = this.module.forward(
      args.map(unwrap),
      Object.fromEntries(Object.entries(kwargs).map(([k, v]) => [k, unwrap(v)])),
    );
    return Array.isArray(out) ? out.map((h) => new Tensor(h)) : new Tensor(out);
  }

  dispose(): void {
    this.module.dispose();
  }
}
