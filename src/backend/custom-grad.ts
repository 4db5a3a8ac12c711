import * as tf from "@tensorflow/tfjs";

/** A forward pass with its own gradient: its value, and each input's gradient from dy and `saved`. */
export interface WithGradient {
  value: tf.Tensor;
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
}

/**
 * tf.customGrad(f)(...inputs) with its types written out (tfjs types `f` too loosely for a
 * function of named tensors to pass without a cast): `forward` gets the inputs and `save`, which
 * keeps the tensors `gradFunc` reads (its `saved`) while the tape records.
 */
export function customGradient(
  inputs: tf.Tensor[],
  forward: (inputs: tf.Tensor[], save: tf.GradSaveFunc) => WithGradient,
): tf.Tensor {
  // tfjs calls f(...inputs, save), and gradFunc with one dy: f's one output's.
  const f = (...args: unknown[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    return forward(args as tf.Tensor[], save);
  };
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0])(...inputs);
}
