import * as tf from "@tensorflow/tfjs";
import { TileArgs, TileLayer } from "./tiles";

/** `height` and `width`: the feature map being unfolded. */
export interface PatchArgs extends TileArgs {
  patch: number;
}

const padded = (v: number, p: number) => Math.ceil(v / p) * p;

/** The static geometry both patch layers share (and serialize). */
abstract class PatchLayer extends TileLayer {
  constructor(args: PatchArgs) {
    super(args, "patch", args.patch);
  }

  get patch(): number {
    return this.side;
  }
}

/**
 * MobileViT's unfold: [B, H, W, C] -> [B*p*p, (H/p)*(W/p), C]. Each of the p*p pixel positions
 * inside a patch becomes its own sequence, so attention runs between patches at the same
 * position. A map whose side is not a multiple of p is zero-padded first (ml-cvnets resizes
 * instead; padding keeps every gradient a plain pad/slice).
 */
export class Unfold extends PatchLayer {
  static className = "Unfold";

  computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = s as tf.Shape;
    const p = this.patch;
    return [null, (padded(this.height, p) / p) * (padded(this.width, p) / p), shape[3]];
  }

  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      let x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const p = this.patch;
      const [b, h, w, c] = x.shape;
      const hp = padded(h, p);
      const wp = padded(w, p);
      if (hp !== h || wp !== w)
        x = tf.pad(x, [
          [0, 0],
          [0, hp - h],
          [0, wp - w],
          [0, 0],
        ]);
      // [B, Hp, Wp, C] -> [B, Hp/p, p, Wp/p, p, C]: row = (patch row, row in patch), same for columns
      const t = tf.transpose(tf.reshape(x, [b, hp / p, p, wp / p, p, c]), [0, 2, 4, 1, 3, 5]);
      // -> [B, p, p, Hp/p, Wp/p, C] -> [B*p*p, (Hp/p)*(Wp/p), C]: one sequence per in-patch position
      return tf.reshape(t, [b * p * p, (hp / p) * (wp / p), c]);
    });
  }
}

/** The inverse of Unfold, cropping any padding: [B*p*p, N, C] -> [B, H, W, C]. */
export class Fold extends PatchLayer {
  static className = "Fold";

  computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    return [null, this.height, this.width, (s as tf.Shape)[2]];
  }

  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
      const p = this.patch;
      const [bpp, , c] = x.shape;
      const b = bpp / (p * p);
      const hp = padded(this.height, p);
      const wp = padded(this.width, p);
      // [B*p*p, (Hp/p)*(Wp/p), C] -> [B, p, p, Hp/p, Wp/p, C] -> [B, Hp/p, p, Wp/p, p, C]
      const t = tf.transpose(tf.reshape(x, [b, p, p, hp / p, wp / p, c]), [0, 3, 1, 4, 2, 5]);
      // -> [B, Hp, Wp, C]: patches back in place (the padding is cropped below)
      const y = tf.reshape(t, [b, hp, wp, c]);
      return hp === this.height && wp === this.width
        ? y
        : tf.slice(y, [0, 0, 0, 0], [b, this.height, this.width, c]);
    });
  }
}
tf.serialization.registerClass(Unfold);
tf.serialization.registerClass(Fold);
