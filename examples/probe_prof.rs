use std::collections::HashMap;
use std::time::Instant;
use tract_tflite::prelude::*;
fn main() -> TractResult<()> {
    let bytes = std::fs::read(std::env::args().nth(1).unwrap())?;
    let (m, _) = edgemark::tflite_fix::load_tflite(&bytes).unwrap();
    let plan = m.into_optimized()?.into_runnable()?;
    let fact = plan.model().input_fact(0)?.clone();
    let mut t = Tensor::zero_dt(
        fact.datum_type.unquantized(),
        fact.shape.as_concrete().unwrap(),
    )?;
    unsafe { t.set_datum_type(fact.datum_type) };
    let mut state = plan.spawn()?;
    let mut acc: HashMap<String, f64> = HashMap::new();
    for _ in 0..3 {
        state.run_plan_with_eval(tvec!(t.clone().into()), |s, st, node, inputs| {
            let t0 = Instant::now();
            let r = tract_tflite::internal::tract_core::plan::eval(s, st, node, inputs);
            *acc.entry(format!("{}", node.op.name())).or_default() +=
                t0.elapsed().as_secs_f64() * 1e3 / 3.0;
            r
        })?;
    }
    let mut v: Vec<_> = acc.into_iter().collect();
    v.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap());
    for (k, ms) in v.iter().take(12) {
        println!("{ms:9.2} ms  {k}");
    }
    Ok(())
}
