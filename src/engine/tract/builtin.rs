//! The built-in model's weights, drawn at load time. The binary embeds only the
//! graph (`models/builtin-mobilenet-v1.graph.onnx`, ~9 KB): each weight
//! initializer there has its dims and a fill rule in its `doc_string`
//! (`edgemark:normal:STD`, `edgemark:zeros`) but no data. Random floats do not
//! compress, so storing them cost 1.9 MB of every binary; drawing them from a
//! fixed seed gives the same model, bit for bit, on every box and build.
//!
//! The materialised model then takes the same path as a user's ONNX file
//! (size and sha256 in the record are of these bytes).

use prost::Message;
use tract_onnx::pb::{ModelProto, TensorProto, tensor_proto::DataType};

use crate::rng::Mt19937;

/// The embedded graph (see scripts/make_builtin_model.py).
pub static GRAPH: &[u8] = include_bytes!("../../../models/builtin-mobilenet-v1.graph.onnx");

/// Seed of the weights; initializer `i` draws from `SEED + i`. Changing it (or
/// the drawing below) changes the built-in model, and a test pins its sha256.
const SEED: u64 = 20_261_128;

/// Why the embedded graph could not be made into a model (a build problem).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuiltinError {
    #[error("decoding the graph: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("the built-in model has no graph")]
    NoGraph,
    /// An initializer whose `edgemark:` fill rule cannot be applied.
    #[error("initializer {name}: {why}")]
    Fill { name: String, why: String },
}

/// The full ONNX model: `graph` with every initializer that carries a fill rule
/// filled. Errors only if the embedded graph is malformed (a build problem).
pub fn materialize(graph: &[u8]) -> Result<Vec<u8>, BuiltinError> {
    let mut model = ModelProto::decode(graph)?;
    let g = model.graph.as_mut().ok_or(BuiltinError::NoGraph)?;
    for (i, t) in g.initializer.iter_mut().enumerate() {
        if let Some(rule) = t.doc_string.strip_prefix("edgemark:") {
            let rule = rule.to_string();
            fill(t, &rule, SEED + i as u64)?;
            t.doc_string.clear();
        }
    }
    Ok(model.encode_to_vec())
}

fn fill(t: &mut TensorProto, rule: &str, seed: u64) -> Result<(), BuiltinError> {
    let bad = |why: String| BuiltinError::Fill {
        name: t.name.clone(),
        why,
    };
    if t.data_type != DataType::Float as i32 || !t.raw_data.is_empty() || !t.float_data.is_empty() {
        return Err(bad("fill rule on a non-empty or non-f32 tensor".into()));
    }
    let n = t
        .dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?))
        .ok_or_else(|| bad(format!("bad dims {:?}", t.dims)))?;
    let values: Vec<f32> = match rule.split_once(':') {
        Some(("normal", std)) => {
            let std: f64 = std.parse().map_err(|_| bad(format!("bad std {std:?}")))?;
            let mut rng = Mt19937::new(seed);
            (0..n).map(|_| (normal(&mut rng) * std) as f32).collect()
        }
        None if rule == "zeros" => vec![0.0; n],
        _ => {
            return Err(bad(format!("unknown fill rule {rule:?}")));
        }
    };
    t.raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    Ok(())
}

/// An (almost) standard normal draw: the Irwin-Hall sum of 12 uniforms, minus
/// 6 (mean 0, variance 1, within +-6). Not Box-Muller: `ln` and `cos` come from
/// the platform's libm and may differ in the last bit between glibc, musl and
/// ARM, while this uses only an exact integer sum and correctly rounded IEEE
/// operations, so every build draws the same bits.
fn normal(rng: &mut Mt19937) -> f64 {
    let sum: u64 = (0..12).map(|_| u64::from(rng.next_u32())).sum();
    sum as f64 / 4_294_967_296.0 - 6.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn every_weight_is_drawn_and_the_model_is_pinned() {
        let bytes = materialize(GRAPH).unwrap();
        let model = ModelProto::decode(&bytes[..]).unwrap();
        let inits = &model.graph.unwrap().initializer;
        let params: usize = inits
            .iter()
            .map(|t| t.raw_data.len() / 4 + t.float_data.len())
            .sum();
        // MobileNet-v1 0.25 with folded batch norm: 467,338 parameters (the
        // generator script prints the same count).
        assert_eq!(params, 467_338);
        assert!(inits.iter().all(|t| t.doc_string.is_empty()));
        // Same bytes every time, on every box: records of the built-in model
        // compare across nodes only if this holds. Update only on purpose.
        assert_eq!(materialize(GRAPH).unwrap(), bytes);
        let sha: [u8; 32] = Sha256::digest(&bytes).into();
        let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, PINNED_SHA256, "the built-in model changed");
    }

    const PINNED_SHA256: &str = "5f4b168c89242a06f4f159a34d3fcc8ae95d34004b8a3556939d764b9079f86a";

    #[test]
    fn weights_follow_their_rule() {
        let bytes = materialize(GRAPH).unwrap();
        let model = ModelProto::decode(&bytes[..]).unwrap();
        let inits = model.graph.unwrap().initializer;
        let values = |name: &str| -> Vec<f32> {
            let t = inits.iter().find(|t| t.name == name).unwrap();
            t.raw_data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect()
        };
        // fc.w: 1000 x 256, std sqrt(1/256) = 0.0625.
        let w = values("fc.w");
        assert_eq!(w.len(), 256_000);
        let mean = w.iter().map(|&v| f64::from(v)).sum::<f64>() / w.len() as f64;
        let var = w
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / w.len() as f64;
        assert!(mean.abs() < 0.001, "mean {mean}");
        assert!((var.sqrt() - 0.0625).abs() < 0.001, "std {}", var.sqrt());
        assert!(values("fc.b").iter().all(|&v| v == 0.0));
        assert_eq!(values("relu6.max"), vec![6.0]);
        // Different initializers draw different streams.
        assert_ne!(values("block0.dw.b")[..8], values("block1.dw.b")[..8]);
    }

    #[test]
    fn malformed_graphs_are_errors() {
        assert!(materialize(b"\xff\xff\xff").is_err());
        let mut model = ModelProto::decode(GRAPH).unwrap();
        model.graph.as_mut().unwrap().initializer[3].doc_string = "edgemark:cauchy:1".into();
        let e = materialize(&model.encode_to_vec()).unwrap_err();
        assert!(e.to_string().contains("unknown fill rule"), "{e}");
    }
}
