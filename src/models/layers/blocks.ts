import * as tf from "@tensorflow/tfjs";
import { TileArgs, TileLayer } from "./tiles";

export interface BlockArgs extends TileArgs {
  /** Side of a square block, in tokens. */
  block: number;
}

/** The static geometry both block layers share (and serialize): the token map splits into whole blocks. */
abstract class BlockLayer extends TileLayer {
  constructor(args: BlockArgs) {
    super(args, "block", args.block);
    if (args.height % args.block !== 0 || args.width % args.block !== 0)
      throw new Error(
        `a ${args.height}x${args.width} token map does not split into ${args.block}x${args.block} blocks`,
      );
  }

  get block(): number {
    return this.side;
  }
}

/**
 * NesT's blockify: [B, H, W, C] -> [B * (H/b) * (W/b), b*b, C]. Each non-overlapping b x b block
 * of neighbouring tokens becomes its own sequence, so attention stays inside a block (the opposite
 * grouping to MobileViT's Unfold, which links tokens at the same place in different patches).
 */
export class Blockify extends BlockLayer {
  static className = "Blockify";

  computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    return [null, this.block * this.block, (s as tf.Shape)[3]];
  }

  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const [b, h, w, c] = x.shape;
      const k = this.block;
      // [B, H, W, C] -> [B, H/k, k, W/k, k, C] -> [B, H/k, W/k, k, k, C]
      const t = tf.transpose(tf.reshape(x, [b, h / k, k, w / k, k, c]), [0, 1, 3, 2, 4, 5]);
      return tf.reshape(t, [b * (h / k) * (w / k), k * k, c]); // -> [B * blocks, k*k, C]
    });
  }
}

/** The inverse of Blockify: [B * (H/b) * (W/b), b*b, C] -> [B, H, W, C]. */
export class Unblockify extends BlockLayer {
  static className = "Unblockify";

  computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    return [null, this.height, this.width, (s as tf.Shape)[2]];
  }

  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
      const k = this.block;
      const nh = this.height / k;
      const nw = this.width / k;
      const c = x.shape[2];
      const b = x.shape[0] / (nh * nw);
      // [B * blocks, k*k, C] -> [B, H/k, W/k, k, k, C] -> [B, H/k, k, W/k, k, C]
      const t = tf.transpose(tf.reshape(x, [b, nh, nw, k, k, c]), [0, 1, 3, 2, 4, 5]);
      return tf.reshape(t, [b, this.height, this.width, c]); // -> [B, H, W, C]
    });
  }
}

tf.serialization.registerClass(Blockify);
tf.serialization.registerClass(Unblockify);
