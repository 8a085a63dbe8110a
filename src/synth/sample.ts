import { PlainBackdrop } from './backdrop.js';
import type { Camera } from './camera.js';
import { buildCharacter } from './character.js';
import type { Light, MeshGroup } from './mesh.js';
import { walkTimeline, type Pose } from './path.js';
import { applyFog, Frame, render } from './rasterizer.js';
import { chaseCameraGround, firstPersonCamera, referenceCamera, thirdPersonCamera } from './rig.js';
import type { SampleSpec } from './spec.js';
import { normalize } from './vec.js';
import { buildWorld, type KeepOut, type World } from './world.js';

/** Frame size and timeline of a run. */
export interface RenderSize {
  width: number;
  height: number;
  frames: number;
  fps: number;
}

/**
 * Objects keep this far (metres, beyond their own radius) from the character's track and the line
 * of sight to it, and further from the chase camera, where anything near fills the frame.
 */
const CLEARANCE = 1.0;
const CAMERA_CLEARANCE = 2.0;
const REFERENCE_LIGHT: Light = { sun: normalize([0.35, 0.8, -0.5]), ambient: 0.45, sky: 0.15, diffuse: 0.55 };
const REFERENCE_BACKDROP = new PlainBackdrop([208, 208, 206], [184, 184, 182]);

/** One view of one frame: its RGB pixels and its class map (one `LABEL_NAMES` id per pixel). */
export interface RenderedView {
  rgb: Uint8Array;
  labels: Uint8Array;
}

/** Renders the three views of one sample; every call returns new buffers. */
export class SampleRenderer {
  readonly poses: Pose[];
  readonly world: World;
  /** Extra triangles drawn in both views (tests place markers here). */
  readonly extra: MeshGroup[] = [];
  private readonly frame: Frame;

  constructor(
    readonly spec: SampleSpec,
    readonly size: RenderSize,
  ) {
    this.poses = walkTimeline(spec.walk, spec.character.height, size.frames, size.fps);
    const keepOut: KeepOut = [];
    for (const pose of this.poses) {
      const [cx, cz] = chaseCameraGround(pose, spec.character);
      for (let k = 0; k <= 3; k++)
        keepOut.push([
          pose.x + ((cx - pose.x) * k) / 3,
          pose.z + ((cz - pose.z) * k) / 3,
          k === 3 ? CAMERA_CLEARANCE : CLEARANCE,
        ]);
    }
    this.world = buildWorld(spec.world, keepOut);
    this.frame = new Frame(size.width, size.height);
  }

  firstPersonCamera(index: number): Camera {
    return firstPersonCamera(this.pose(index), this.spec.character, this.size.width, this.size.height);
  }

  thirdPersonCamera(index: number): Camera {
    return thirdPersonCamera(this.pose(index), this.spec.character, this.size.width, this.size.height);
  }

  /** The character's own view: its body is not drawn (it would only block the eyes), its shadow is. */
  firstPersonView(index: number): RenderedView {
    return this.renderWorld(index, this.firstPersonCamera(index), { body: false, shadow: true });
  }

  /** The chase view; `character: false` leaves the character (body and shadow) out of the world. */
  thirdPersonView(index: number, options: { character?: boolean } = {}): RenderedView {
    const present = options.character ?? true;
    return this.renderWorld(index, this.thirdPersonCamera(index), { body: present, shadow: present });
  }

  firstPerson(index: number): Uint8Array {
    return this.firstPersonView(index).rgb;
  }

  thirdPerson(index: number, options: { character?: boolean } = {}): Uint8Array {
    return this.thirdPersonView(index, options).rgb;
  }

  /** The character alone, standing, seen from behind on a light grey background. */
  reference(): Uint8Array {
    const character = buildCharacter(
      this.spec.character,
      { x: 0, z: 0, heading: 0, phase: 0, stride: 0 },
      REFERENCE_LIGHT,
    );
    render(this.frame, referenceCamera(this.spec.character, this.size.width, this.size.height), REFERENCE_BACKDROP, [
      character,
    ]);
    return this.frame.rgb.slice();
  }

  private pose(index: number): Pose {
    const pose = this.poses[index];
    if (!pose) throw new RangeError(`frame ${index} is outside 0..${this.poses.length - 1}`);
    return pose;
  }

  private renderWorld(index: number, camera: Camera, draw: { body: boolean; shadow: boolean }): RenderedView {
    const pose = this.pose(index);
    const { character } = this.spec;
    const { sun } = this.spec.world;
    const groups = this.world.objects.map((o) => o.mesh).concat(this.extra);
    const backdrop = this.world.backdrop;
    if (draw.body) {
      groups.push(
        buildCharacter(
          character,
          { x: pose.x, z: pose.z, heading: pose.heading, phase: pose.phase, stride: 1 },
          this.world.light,
        ),
      );
    }
    if (draw.shadow) {
      const reach = Math.min(1.2, (0.35 * character.height) / Math.tan(sun.elevation));
      backdrop.characterShadow = {
        x: pose.x - reach * Math.sin(sun.azimuth),
        z: pose.z - reach * Math.cos(sun.azimuth),
        radius: 0.32 * character.height,
      };
    } else {
      backdrop.characterShadow = null;
    }
    render(this.frame, camera, backdrop, groups);
    applyFog(this.frame, this.spec.world.skyHorizon, this.spec.world.fog);
    return { rgb: this.frame.rgb.slice(), labels: this.frame.labels.slice() };
  }
}
