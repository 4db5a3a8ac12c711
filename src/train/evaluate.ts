import * as tf from "@tensorflow/tfjs";
import { SplitReader } from "../data/format";
import { batches, epochOrder } from "../data/batches";
import { wilsonInterval } from "../util/stats";

export interface Evaluation {
  count: number;
  loss: number;
  accuracy: number;
  /** 95 % Wilson interval of the accuracy. */
  ci95: [number, number];
  /** confusion[true][predicted] */
  confusion: number[][];
  predictions: Int32Array;
}

/** Accuracy, loss and confusion over a whole split, in inference mode. */
export function evaluate(
  model: tf.LayersModel,
  reader: SplitReader,
  batchSize = 64,
  limit?: number,
): Evaluation {
  const classes = reader.header.spec.difficulty.lanes;
  const n = Math.min(reader.count, limit ?? reader.count);
  const confusion = Array.from({ length: classes }, () => new Array(classes).fill(0));
  const predictions = new Int32Array(n);
  let lossSum = 0;
  let correct = 0;
  for (const b of batches(reader, epochOrder(n, 0, 0, false), batchSize)) {
    const [loss, pred] = tf.tidy(() => {
      const logits = model.apply(b.xs, { training: false }) as tf.Tensor2D;
      const y = tf.oneHot(tf.tensor1d(b.labels, "int32"), classes);
      return [
        tf.losses.softmaxCrossEntropy(y, logits, undefined, 0, tf.Reduction.SUM).dataSync()[0],
        tf.argMax(logits, 1).dataSync() as Int32Array,
      ];
    });
    b.xs.dispose();
    lossSum += loss;
    b.indices.forEach((idx, k) => {
      predictions[idx] = pred[k];
      confusion[b.labels[k]][pred[k]]++;
      if (pred[k] === b.labels[k]) correct++;
    });
  }
  return {
    count: n,
    loss: n ? lossSum / n : NaN,
    accuracy: n ? correct / n : NaN,
    ci95: wilsonInterval(correct, n),
    confusion,
    predictions,
  };
}
