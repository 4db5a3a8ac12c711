import * as tf from "@tensorflow/tfjs";

type Init = ReturnType<typeof tf.initializers.heNormal>;

/**
 * Seeded initializers: tfjs draws unseeded weights from Math.random, which would make two runs
 * of the same config differ. Each call hands out the next seed of the model's stream.
 */
export class Seeds {
  private next: number;
  constructor(seed: number) {
    this.next = seed * 7919 + 1;
  }
  /** A plain integer seed, for custom layers that build their own initializers. */
  int(): number {
    return this.next++;
  }
  heNormal(): Init {
    return tf.initializers.heNormal({ seed: this.next++ });
  }
  glorotUniform(): Init {
    return tf.initializers.glorotUniform({ seed: this.next++ });
  }
  truncatedNormal(stddev: number): Init {
    return tf.initializers.truncatedNormal({ stddev, seed: this.next++ });
  }
}
