import * as tf from "@tensorflow/tfjs";

/** What a tiling layer is built with besides its tile side. */
export interface TileArgs {
  /** Spatial size of the map being tiled (static in a built model). */
  height: number;
  width: number;
  name?: string;
  trainable?: boolean;
}

/**
 * The static geometry a tiling layer and its inverse share (NesT's Blockify/Unblockify, MobileViT's
 * Unfold/Fold): a height x width map cut into square tiles of side `side`. Serialized as
 * { [key]: side, height, width }, `key` being the layer's own word for a tile (`block`, `patch`).
 */
export abstract class TileLayer extends tf.layers.Layer {
  readonly height: number;
  readonly width: number;

  constructor(
    args: TileArgs,
    private readonly key: "block" | "patch",
    protected readonly side: number,
  ) {
    super(args);
    this.height = args.height;
    this.width = args.width;
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), [this.key]: this.side, height: this.height, width: this.width };
  }
}
