//! Pins the record format (golden bytes), checks every field survives a round
//! trip and every malformed input is a named error, and measures record sizes.

use super::*;

/// The framed bytes of `example_record(0)` as schema version 1 wrote them
/// (before accuracy was added): kept to prove version 1 files are still read.
const GOLDEN_V1_HEX: &str = concat!(
    "454447454d5245430100ef0200006966ed5205302e312e300c3031323334353637383961621a616172636836342d756e",
    "6b6e6f776e2d6c696e75782d6d75736c06302e32332e39f0bdf3d589cf959a128080cc9fc2f0d6eb1880e0f1b5fd81d7",
    "eb18077069342d6c6162011e5261737062657272792050692034204d6f64656c20422052657620312e34010a436f7274",
    "65782d4137320401c0ee6d04000102030111362e362e33312b7270742d7270692d76380180c08be90e010001086f6e64",
    "656d616e6401c0cf2401c0ee6d01c0ee6d01000b6370752d746865726d616c05747261637416747261637420302e3233",
    "2e392c20312074687265616401116d6f62696c656e65745f76322e6f6e6e789baad406ababababababababababababab",
    "ababababababababababababababababababab00000105696e707574040103e001e0010366333201066f757470757402",
    "01e80703663332010401020203086f6666696369616c000001186d6f64656c732f6d6f62696c656e65745f76322e6f6e",
    "6e780105696e707574040103e001e0010107696e707574732f010402020380e0a596bb1100640080088827b8fdd8e7dc",
    "b3c3f81cebc2b2ecaebc849026cdccccccccccec3f0000000000000000000a80ade204010303c0a4ad96bb11c0a8a504",
    "a0f8fa05c0c7ee0480ade204c0b19f05e0f3bd0580b6dc0580ebf405a0f8fa05c0b19f0501cdccccccccccec3f4001c5",
    "2d01e0bea50501ae47e17a14aeef3f960500000000000000006058408282828282825840000000000060584001010002",
    "020680c6988303c0caba150ac0d8883200010180808002018080802e80c2d72ff12e01000b6370752d746865726d616c",
    "ca86058ce0090100c0843dc0ee6d01008280080201020180c8ceb40d80a2fdc5bb1102065644445f494e80c8ceb40d01",
    "0e5644445f4350555f4750555f435680989abc04000138435055206672657175656e6379206368616e67656420647572",
    "696e67207468652072756e3a206370753020313030302d31383030204d487a010307ff07000380dac409ff887ac09fab",
    "03",
);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The framed bytes of `example_record(0)` as schema version 2 wrote them
/// (before the histogram, series, power estimate, engine and input set were
/// appended): kept to prove version 2 files are still read.
const GOLDEN_V2_HEX: &str = concat!(
    "454447454d524543020074030000ba482add05302e312e300c3031323334353637383961621a616172636836342d756e",
    "6b6e6f776e2d6c696e75782d6d75736c06302e32332e39f0bdf3d589cf959a128080cc9fc2f0d6eb1880e0f1b5fd81d7",
    "eb18077069342d6c6162011e5261737062657272792050692034204d6f64656c20422052657620312e34010a436f7274",
    "65782d4137320401c0ee6d04000102030111362e362e33312b7270742d7270692d76380180c08be90e010001086f6e64",
    "656d616e6401c0cf2401c0ee6d01c0ee6d01000b6370752d746865726d616c05747261637416747261637420302e3233",
    "2e392c20312074687265616401116d6f62696c656e65745f76322e6f6e6e789baad406ababababababababababababab",
    "ababababababababababababababababababab00000105696e707574040103e001e0010366333201066f757470757402",
    "01e80703663332010401020203086f6666696369616c000001186d6f64656c732f6d6f62696c656e65745f76322e6f6e",
    "6e780105696e707574040103e001e0010107696e707574732f010402020380e0a596bb1100640080088827b8fdd8e7dc",
    "b3c3f81cebc2b2ecaebc849026cdccccccccccec3f0000000000000000000a80ade20401010303c0a4ad96bb11c0a8a5",
    "04a0f8fa05c0c7ee0480ade204c0b19f05e0f3bd0580b6dc0580ebf405a0f8fa05c0b19f0501cdccccccccccec3f4001",
    "c52d01e0bea50501ae47e17a14aeef3f9605000000000000000060584082828282828258400000000000605840010100",
    "02020680c6988303c0caba150ac0d8883200010180808002018080802e80c2d72ff12e01000b6370752d746865726d61",
    "6cca86058ce0090100c0843dc0ee6d01008280080201020180c8ceb40d80a2fdc5bb1102065644445f494e80c8ceb40d",
    "010e5644445f4350555f4750555f435680989abc04000138435055206672657175656e6379206368616e676564206475",
    "72696e67207468652072756e3a206370753020313030302d31383030204d487a010307ff07000380dac409ff887ac09f",
    "ab0301102e2e2f7368617265642f696d61676573011c2e2e2f7368617265642f696d616765732f6c6162656c732e6a73",
    "6f6e0e696d6167656e65742d746f726368100f01010a62726f6b656e2e6a70671f62726f6b656e2e6a70673a2063616e",
    "6e6f74206465636f646520696d6167650d0ee8070199020201019d020180d0a54c80c6868f01",
);

/// The framed bytes of `example_record(0)` as schema version 3 wrote them
/// (before `accuracy_details` was appended): kept to prove version 3 files
/// are still read.
const GOLDEN_V3_HEX: &str = concat!(
    "454447454d52454303000c04000078ca8cb305302e312e300c3031323334353637383961621a616172636836342d756e",
    "6b6e6f776e2d6c696e75782d6d75736c06302e32332e39f0bdf3d589cf959a128080cc9fc2f0d6eb1880e0f1b5fd81d7",
    "eb18077069342d6c6162011e5261737062657272792050692034204d6f64656c20422052657620312e34010a436f7274",
    "65782d4137320401c0ee6d04000102030111362e362e33312b7270742d7270692d76380180c08be90e010001086f6e64",
    "656d616e6401c0cf2401c0ee6d01c0ee6d01000b6370752d746865726d616c05747261637416747261637420302e3233",
    "2e392c20312074687265616401116d6f62696c656e65745f76322e6f6e6e789baad406ababababababababababababab",
    "ababababababababababababababababababab00000105696e707574040103e001e0010366333201066f757470757402",
    "01e80703663332010401020203086f6666696369616c000001186d6f64656c732f6d6f62696c656e65745f76322e6f6e",
    "6e780105696e707574040103e001e0010107696e707574732f010402020380e0a596bb1100640080088827b8fdd8e7dc",
    "b3c3f81cebc2b2ecaebc849026cdccccccccccec3f0000000000000000000a80ade20401010303c0a4ad96bb11c0a8a5",
    "04a0f8fa05c0c7ee0480ade204c0b19f05e0f3bd0580b6dc0580ebf405a0f8fa05c0b19f0501cdccccccccccec3f4001",
    "c52d01e0bea50501ae47e17a14aeef3f9605000000000000000060584082828282828258400000000000605840010100",
    "02020680c6988303c0caba150ac0d8883200010180808002018080802e80c2d72ff12e01000b6370752d746865726d61",
    "6cca86058ce0090100c0843dc0ee6d01008280080201020180c8ceb40d80a2fdc5bb1102065644445f494e80c8ceb40d",
    "010e5644445f4350555f4750555f435680989abc04000138435055206672657175656e6379206368616e676564206475",
    "72696e67207468652072756e3a206370753020313030302d31383030204d487a010307ff07000380dac409ff887ac09f",
    "ab0301102e2e2f7368617265642f696d61676573011c2e2e2f7368617265642f696d616765732f6c6162656c732e6a73",
    "6f6e0e696d6167656e65742d746f726368100f01010a62726f6b656e2e6a70671f62726f6b656e2e6a70673a2063616e",
    "6e6f74206465636f646520696d6167650d0ee8070199020201019d020180d0a54c80c6868f010107038911010f012601",
    "01008094ebdc0304000004bc06d4018e029e02010004901c00d704e70702ffffffff0f04fc5c8c0127870e0300040000",
    "0400010472706934803235526173706265727279205069203420706f77657220756e646572206c6f61642c2076656e64",
    "6f722070726f647563742062726965660105747261637406302e32332e39000000000180808020800880e0248008",
);

/// The framed bytes of `example_record(0)` in the current schema (version 4).
/// If this test fails, the wire format changed: that needs a new
/// SCHEMA_VERSION (and a reader for version 4), not a new constant here.
const GOLDEN_HEX: &str = concat!(
    "454447454d5245430400570400001aec911405302e312e300c3031323334353637383961621a616172636836342d756e",
    "6b6e6f776e2d6c696e75782d6d75736c06302e32332e39f0bdf3d589cf959a128080cc9fc2f0d6eb1880e0f1b5fd81d7",
    "eb18077069342d6c6162011e5261737062657272792050692034204d6f64656c20422052657620312e34010a436f7274",
    "65782d4137320401c0ee6d04000102030111362e362e33312b7270742d7270692d76380180c08be90e010001086f6e64",
    "656d616e6401c0cf2401c0ee6d01c0ee6d01000b6370752d746865726d616c05747261637416747261637420302e3233",
    "2e392c20312074687265616401116d6f62696c656e65745f76322e6f6e6e789baad406ababababababababababababab",
    "ababababababababababababababababababab00000105696e707574040103e001e0010366333201066f757470757402",
    "01e80703663332010401020203086f6666696369616c000001186d6f64656c732f6d6f62696c656e65745f76322e6f6e",
    "6e780105696e707574040103e001e0010107696e707574732f010402020380e0a596bb1100640080088827b8fdd8e7dc",
    "b3c3f81cebc2b2ecaebc849026cdccccccccccec3f0000000000000000000a80ade20401010303c0a4ad96bb11c0a8a5",
    "04a0f8fa05c0c7ee0480ade204c0b19f05e0f3bd0580b6dc0580ebf405a0f8fa05c0b19f0501cdccccccccccec3f4001",
    "c52d01e0bea50501ae47e17a14aeef3f9605000000000000000060584082828282828258400000000000605840010100",
    "02020680c6988303c0caba150ac0d8883200010180808002018080802e80c2d72ff12e01000b6370752d746865726d61",
    "6cca86058ce0090100c0843dc0ee6d01008280080201020180c8ceb40d80a2fdc5bb1102065644445f494e80c8ceb40d",
    "010e5644445f4350555f4750555f435680989abc04000138435055206672657175656e6379206368616e676564206475",
    "72696e67207468652072756e3a206370753020313030302d31383030204d487a010307ff07000380dac409ff887ac09f",
    "ab0301102e2e2f7368617265642f696d61676573011c2e2e2f7368617265642f696d616765732f6c6162656c732e6a73",
    "6f6e0e696d6167656e65742d746f726368100f01010a62726f6b656e2e6a70671f62726f6b656e2e6a70673a2063616e",
    "6e6f74206465636f646520696d6167650d0ee8070199020201019d020180d0a54c80c6868f010107038911010f012601",
    "01008094ebdc0304000004bc06d4018e029e02010004901c00d704e70702ffffffff0f04fc5c8c0127870e0300040000",
    "0400010472706934803235526173706265727279205069203420706f77657220756e646572206c6f61642c2076656e64",
    "6f722070726f647563742062726965660105747261637406302e32332e39000000000180808020800880e02480080102",
    "096361745f322e6a7067019902059d0299029a029f029b028080d088040a62726f6b656e2e6a7067010900808080fe07",
    "0299020574616262799d020c456779707469616e2063617400",
);

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn golden_bytes_pin_the_layout() {
    let bytes = example_record(0).encode();
    assert_eq!(hex(&bytes), GOLDEN_HEX, "record wire format changed");
}

#[test]
fn version_1_records_are_still_read() {
    let v1 = unhex(GOLDEN_V1_HEX);
    assert_eq!(u16::from_le_bytes([v1[8], v1[9]]), 1);
    let rec = Record::decode(&v1).expect("a version 1 record decodes");
    // Version 1 is version 2 without accuracy: every other field is the same.
    let mut want = v2_fields_only(example_record(0));
    want.accuracy = None;
    assert_eq!(rec, want);
    assert!(!rec.is_accuracy_only());
    // Re-encoding writes the current version.
    let again = rec.encode();
    assert_eq!(u16::from_le_bytes([again[8], again[9]]), SCHEMA_VERSION);
    assert_eq!(Record::decode(&again).unwrap(), want);
}

/// `rec` without the fields versions 3 and 4 appended.
fn v2_fields_only(mut rec: Record) -> Record {
    rec = v3_fields_only(rec);
    rec.latency_histogram = None;
    rec.series = None;
    rec.power_estimate = None;
    rec.engine = None;
    rec.input_set = None;
    rec
}

#[test]
fn version_2_records_are_still_read() {
    let v2 = unhex(GOLDEN_V2_HEX);
    assert_eq!(u16::from_le_bytes([v2[8], v2[9]]), 2);
    let rec = Record::decode(&v2).expect("a version 2 record decodes");
    // Version 2 is version 3 without the five appended fields.
    let want = v2_fields_only(example_record(0));
    assert_eq!(rec, want);
    let again = rec.encode();
    assert_eq!(u16::from_le_bytes([again[8], again[9]]), SCHEMA_VERSION);
    assert_eq!(Record::decode(&again).unwrap(), want);
}

/// `rec` without the field version 4 appended.
fn v3_fields_only(mut rec: Record) -> Record {
    rec.accuracy_details = None;
    rec.sut_transport = None;
    rec
}

#[test]
fn version_3_records_are_still_read() {
    let v3 = unhex(GOLDEN_V3_HEX);
    assert_eq!(u16::from_le_bytes([v3[8], v3[9]]), 3);
    let rec = Record::decode(&v3).expect("a version 3 record decodes");
    // Version 3 is version 4 without the per-sample accuracy details.
    let want = v3_fields_only(example_record(0));
    assert_eq!(rec, want);
    let again = rec.encode();
    assert_eq!(u16::from_le_bytes([again[8], again[9]]), SCHEMA_VERSION);
    assert_eq!(Record::decode(&again).unwrap(), want);
}

#[test]
fn version_4_accuracy_details_round_trip_and_cost_nothing_when_absent() {
    let rec = example_record(0);
    let d = rec.accuracy_details.as_ref().unwrap();
    assert_eq!(d.misclassified[0].score(), 9.25);
    assert!(d.misclassified[1].score().is_nan() && d.misclassified[1].top5.is_empty());
    assert_eq!(
        (d.class_name(285), d.class_name(282)),
        (Some("Egyptian cat"), None)
    );
    let back = Record::decode(&rec.encode()).unwrap();
    assert_eq!(back.accuracy_details, rec.accuracy_details);
    // Without details (and no exec: transport) a version 4 record is the
    // version 3 one plus two bytes (the Options' tags).
    let bare = v3_fields_only(rec);
    assert_eq!(bare.encode().len(), unhex(GOLDEN_V3_HEX).len() + 2);
    assert_eq!(Record::decode(&bare.encode()).unwrap(), bare);
}

#[test]
fn version_4_sut_transport_is_the_last_field_one_tag_and_one_index() {
    // Append-only: the variants' indices are the wire bytes (pipes 0,
    // socketpair 1, spin 2) after the Option's tag, at the very end.
    let none = example_record(0).encode();
    for (t, byte) in [
        (Transport::Pipes, 0u8),
        (Transport::SocketPair, 1),
        (Transport::Spin, 2),
    ] {
        let mut rec = example_record(0);
        rec.sut_transport = Some(t);
        let b = rec.encode();
        assert_eq!(b.len(), none.len() + 1, "{t:?}");
        assert_eq!(&b[b.len() - 2..], &[1, byte], "{t:?}");
        assert_eq!(Record::decode(&b).unwrap().sut_transport, Some(t));
    }
}

#[test]
fn newer_payloads_under_older_headers_are_errors() {
    // The header's version decides the reader: a v3 payload framed as v1 or
    // v2 has bytes that reader does not expect, and must fail, not mis-decode.
    for v in [1u16, 2] {
        let mut b = example_record(0).encode();
        b[8..10].copy_from_slice(&v.to_le_bytes());
        assert!(
            matches!(Record::decode(&b), Err(DecodeError::Payload(_))),
            "v3 payload under a v{v} header"
        );
    }
}

#[test]
fn version_3_fields_round_trip_and_are_tidy() {
    let rec = example_record(0);
    let h = rec.latency_histogram.as_ref().unwrap();
    assert_eq!(h.total(), 3);
    // The example's latencies are 9, 10 and 12.5 ms: the median is 10 ms.
    let p50 = h.quantile(0.5).unwrap() as f64;
    assert!((p50 - 10e6).abs() / 10e6 <= h.relative_error(), "{p50}");
    let mut other = rec.clone();
    other.series.as_mut().unwrap().tracks[0].values = vec![i64::MIN, i64::MAX, 0, -1];
    other.engine.as_mut().unwrap().command = vec!["python3".into(), "sut.py".into()];
    other.engine.as_mut().unwrap().stderr_tail = vec!["Traceback".into()];
    assert_eq!(Record::decode(&other.encode()).unwrap(), other);
    let bare = v2_fields_only(rec);
    assert_eq!(Record::decode(&bare.encode()).unwrap(), bare);
}

#[test]
fn singlestream_metric_names_the_plans_percentile() {
    let mut rec = example_record(1);
    rec.plan.scenario = Scenario::SingleStream;
    rec.plan.settings.target_percentile = 0.99;
    let res = rec.result.as_mut().unwrap();
    res.target_percentile_ns = 12_300_000;
    res.p90_ns = 11_000_000;
    res.early_stopping_90 = Some(EarlyStopping {
        percentile: 0.99,
        min_queries: 662,
        met: true,
        t: 3,
        estimate_ns: Some(12_500_000),
    });
    assert_eq!(
        rec.metric(),
        (
            "p99 early-stopping latency ns".to_string(),
            Some(12_500_000.0)
        )
    );
    // Without an estimate: the raw latency at the same percentile, not p90.
    rec.result.as_mut().unwrap().early_stopping_90 = None;
    assert_eq!(
        rec.metric(),
        ("p99 latency ns".to_string(), Some(12_300_000.0))
    );
    rec.plan.settings.target_percentile = 0.9;
    assert_eq!(rec.metric().0, "p90 latency ns");
}

#[test]
fn accuracy_record_round_trips() {
    let mut rec = example_record(3);
    rec.result = None;
    rec.trace = None;
    rec.plan.mode = Mode::Accuracy;
    assert!(rec.is_accuracy_only());
    let back = Record::decode(&rec.encode()).unwrap();
    assert_eq!(back, rec);
    let (name, value) = back.metric();
    assert_eq!(name, "top-1 accuracy");
    assert!((value.unwrap() - 13.0 / 15.0).abs() < 1e-12);
    assert_eq!(back.samples_per_second_per_core(), None);
    assert!(
        writer::file_name(&back).contains("_accuracy_"),
        "{}",
        writer::file_name(&back)
    );
    let a = back.accuracy.as_ref().unwrap();
    assert_eq!(a.top5_fraction(), Some(14.0 / 15.0));
    let mut empty = a.clone();
    empty.scored = 0;
    assert_eq!(empty.top1_fraction(), None);
}

#[test]
fn header_is_magic_version_length_crc() {
    let bytes = example_record(0).encode();
    assert_eq!(&bytes[..8], b"EDGEMREC");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 4);
    let len = u32::from_le_bytes(bytes[10..14].try_into().unwrap()) as usize;
    assert_eq!(len, bytes.len() - HEADER_LEN);
    let crc = u32::from_le_bytes(bytes[14..18].try_into().unwrap());
    assert_eq!(crc, crc32fast::hash(&bytes[HEADER_LEN..]));
}

#[test]
fn every_field_round_trips() {
    let rec = example_record(42);
    let back = Record::decode(&rec.encode()).expect("decodes");
    // PartialEq over the whole struct covers every field, trace included.
    assert_eq!(back, rec);

    // And the other enum variants and None/empty shapes.
    let mut other = rec.clone();
    other.plan.scenario = Scenario::Offline;
    other.plan.mode = Mode::Accuracy;
    other.plan.sut = SutSpec::Synthetic("busy:1".into());
    other.plan.settings.warm_up = WarmUp::DurationNs(5_000_000_000);
    other.sut.model.as_mut().unwrap().format = ModelFormat::Tflite;
    other.sensors.energy.as_mut().unwrap().source = EnergySource::HwmonPower;
    other.sensors.energy.as_mut().unwrap().total_uj = None;
    other.result.as_mut().unwrap().invalid_reasons = vec![
        InvalidReason::MinDurationNotMet,
        InvalidReason::MinQueriesNotMet,
        InvalidReason::OfflineExpectedQpsTooLow,
        InvalidReason::Aborted,
        InvalidReason::LatencyStoreFull,
    ];
    other.trace = None;
    other.host.board = None;
    other.memory.peak_rss_bytes = None;
    assert_eq!(Record::decode(&other.encode()).unwrap(), other);

    let mut bare = rec;
    bare.plan.sut = SutSpec::BuiltIn;
    bare.sut.model = None;
    bare.sensors = Sensors {
        period_ns: 0,
        samples: 0,
        zones: vec![],
        cores: vec![],
        throttle: None,
        energy: None,
    };
    bare.sensors.energy = Some(Energy {
        source: EnergySource::Rapl,
        total_uj: Some(1),
        span_ns: 1,
        rails: vec![],
    });
    assert_eq!(Record::decode(&bare.encode()).unwrap(), bare);
    bare.sensors.energy = Some(Energy {
        source: EnergySource::HwmonEnergy,
        total_uj: None,
        span_ns: 0,
        rails: vec![],
    });
    assert_eq!(Record::decode(&bare.encode()).unwrap(), bare);
}

#[test]
fn trace_deltas_round_trip_extreme_values() {
    let mut rec = example_record(1);
    let lat = vec![u64::MAX, 0, 1, u64::MAX - 1, 1 << 63, 5, 5, 0];
    rec.trace = Some(Trace {
        issued_sample_index: vec![u32::MAX, 0, 1, 2, 3, 4, 5, 6],
        latency_ns: lat,
    });
    assert_eq!(Record::decode(&rec.encode()).unwrap(), rec);
}

#[test]
fn malformed_inputs_are_named_errors() {
    let good = example_record(0).encode();
    assert_eq!(Record::decode(&[]), Err(DecodeError::Empty));
    assert_eq!(
        Record::decode(b"PK\x03\x04 not a record"),
        Err(DecodeError::BadMagic)
    );
    assert_eq!(
        Record::decode(b"EDGE"),
        Err(DecodeError::Truncated {
            needed: HEADER_LEN as u64,
            got: 4
        })
    );

    let cut = &good[..good.len() - 10];
    assert_eq!(
        Record::decode(cut),
        Err(DecodeError::Truncated {
            needed: good.len() as u64,
            got: cut.len() as u64
        })
    );

    let mut long = good.clone();
    long.extend_from_slice(b"xyz");
    assert_eq!(
        Record::decode(&long),
        Err(DecodeError::TrailingBytes { extra: 3 })
    );

    let mut flipped = good.clone();
    let mid = HEADER_LEN + (good.len() - HEADER_LEN) / 2;
    flipped[mid] ^= 0x10;
    assert!(matches!(
        Record::decode(&flipped),
        Err(DecodeError::Checksum { .. })
    ));

    // A payload with a valid checksum that is not a record (a writer bug) is still an error.
    let junk = [0xffu8; 40];
    let mut forged = Vec::new();
    forged.extend_from_slice(&MAGIC);
    forged.extend_from_slice(&SCHEMA_VERSION.to_le_bytes());
    forged.extend_from_slice(&(junk.len() as u32).to_le_bytes());
    forged.extend_from_slice(&crc32fast::hash(&junk).to_le_bytes());
    forged.extend_from_slice(&junk);
    assert!(matches!(
        Record::decode(&forged),
        Err(DecodeError::Payload(_))
    ));
}

#[test]
fn other_schema_versions_are_refused_naming_both() {
    let good = example_record(0).encode();
    for (v, word) in [(5u16, "newer"), (0u16, "older")] {
        let mut b = good.clone();
        b[8..10].copy_from_slice(&v.to_le_bytes());
        let e = Record::decode(&b).unwrap_err();
        assert_eq!(
            e,
            DecodeError::UnsupportedVersion {
                found: v,
                supported: SCHEMA_VERSION
            }
        );
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("version {v}")) && msg.contains("reads versions 1 to 4"),
            "{msg}"
        );
        assert!(msg.contains(word), "{msg}");
    }
}

#[test]
fn read_error_names_the_path() {
    let dir = std::env::temp_dir().join(format!("edgemark-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("zero.emrec");
    std::fs::write(&p, b"").unwrap();
    let msg = Record::read(&p).unwrap_err().to_string();
    assert!(msg.contains("zero.emrec") && msg.contains("empty"), "{msg}");
    let msg = Record::read(&dir.join("missing.emrec"))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("missing.emrec") && msg.contains("cannot read"),
        "{msg}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_byte_flip_and_cut_is_an_error_not_a_panic() {
    let good = example_record(3).encode();
    for i in 0..good.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = good.clone();
            b[i] ^= bit;
            assert!(
                Record::decode(&b).is_err(),
                "flip of byte {i} bit {bit:#x} went unnoticed"
            );
        }
        assert!(
            Record::decode(&good[..i]).is_err(),
            "cut at {i} went unnoticed"
        );
    }
}

#[test]
fn tract_version_matches_cargo_toml_pin() {
    let toml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    for krate in ["tract-onnx", "tract-tflite", "tract-linalg"] {
        let line = toml
            .lines()
            .find(|l| l.starts_with(krate))
            .unwrap_or_else(|| panic!("{krate} not in Cargo.toml"));
        assert!(
            line.contains(&format!("\"={TRACT_VERSION}\"")),
            "{krate} is not pinned to {TRACT_VERSION}: {line}"
        );
    }
}

/// A deterministic stand-in for a real SingleStream latency stream: ~1 ms with
/// jitter and a tail, like a small model on a Cortex-A72.
fn realistic_trace(n: usize) -> Trace {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut idx = Vec::with_capacity(n);
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        idx.push((next() % 1024) as u32);
        let r = next();
        let jitter = r % 60_000; // 0-60 µs
        let tail = if r % 100 == 0 {
            (r >> 20) % 2_000_000
        } else {
            0
        };
        lat.push(950_000 + jitter + tail);
    }
    Trace {
        issued_sample_index: idx,
        latency_ns: lat,
    }
}

/// The record of a 10-minute `official` SingleStream run on a box with many
/// sensors (8 cores, 8 cpufreq policies, 10 thermal zones, 3 rails).
fn ten_minute_record(with_trace: bool) -> Record {
    let mut rec = example_record(7);
    // A performance record: the per-sample accuracy details are the
    // accuracy record's alone.
    rec.accuracy_details = None;
    rec.host.cores = 8;
    rec.host.board = Some("Radxa ROCK 5B".into());
    rec.host.cpu_model = Some("Cortex-A55 + Cortex-A76".into());
    rec.host.cpufreq = (0..8)
        .map(|cpu| CpuFreqPolicy {
            cpu,
            governor: Some("schedutil".into()),
            min_khz: Some(408_000),
            max_khz: Some(2_400_000),
            hw_max_khz: Some(2_400_000),
        })
        .collect();
    rec.host.thermal_zones = (0..10)
        .map(|i| ThermalZone {
            index: i,
            kind: format!("zone{i}-thermal"),
        })
        .collect();
    rec.sensors.zones = (0..10)
        .map(|i| ZoneTemps {
            index: i,
            kind: format!("zone{i}-thermal"),
            min_millicelsius: 40_000,
            max_millicelsius: 70_000,
        })
        .collect();
    rec.sensors.cores = (0..8)
        .map(|cpu| CoreFreqs {
            cpu,
            min_khz: 408_000,
            max_khz: 2_400_000,
        })
        .collect();
    rec.warnings = vec![
        "cpufreq governor is \"schedutil\", not \"performance\", on cpu 0-7: frequency may vary during the run".into(),
        "CPU frequency changed during the run: cpu0 408-2400 MHz, cpu1 408-2400 MHz, cpu2 408-2400 MHz, cpu3 408-2400 MHz".into(),
    ];
    rec.result.as_mut().unwrap().query_count = 600_000;
    rec.result.as_mut().unwrap().sample_count = 600_000;
    rec.plan.trace = with_trace;
    let trace = realistic_trace(600_000);
    // Every record keeps the histogram, trace or not.
    rec.latency_histogram = Some(LatencyHistogram::from_latencies(&trace.latency_ns));
    rec.trace = with_trace.then_some(trace);
    // Ten minutes of 10 zones, 2 clusters and the input rail at 4 Hz.
    let (s, clusters, energy) = super::series::tests::board_run(600, 10);
    rec.series = SensorSeries::from_probe(&s, &clusters, Some(&energy));
    // A board with a power sensor has no estimate.
    rec.power_estimate = None;
    rec
}

#[test]
fn ten_minute_single_stream_record_sizes() {
    let plain = ten_minute_record(false).encode();
    let traced_rec = ten_minute_record(true);
    let traced = traced_rec.encode();
    let rec = ten_minute_record(false);
    let hist = rec.latency_histogram.as_ref().unwrap();
    let series = rec.series.as_ref().unwrap();
    let series_bytes = postcard::to_stdvec(series).unwrap().len();
    eprintln!(
        "record size, 10-minute official SingleStream, 600000 queries: without trace {} bytes (latency histogram {} bytes, {} buckets, precision {} bits; series {} bytes, {} tracks x {} points every {} s), with trace {} bytes ({:.2} bytes/query)",
        plain.len(),
        hist.encoded_len(),
        hist.buckets.len(),
        hist.precision_bits,
        series_bytes,
        series.tracks.len(),
        series.points(),
        series.step_ns / 1_000_000_000,
        traced.len(),
        (traced.len() - plain.len()) as f64 / 600_000.0
    );
    assert!(
        plain.len() < 4096,
        "record without trace is {} bytes, must be < 4 KiB",
        plain.len()
    );
    assert_eq!(Record::decode(&traced).unwrap(), traced_rec);
}

mod from_run {
    use super::super::*;
    use crate::loadgen::ScenarioRun;
    use crate::probe::{self, ProbeSummary, SystemInfo};
    use crate::{plan, stats, sut};

    /// The warm-up the inputs' scenario had.
    const WARM_UP: crate::loadgen::warm_up::WarmUpDone = crate::loadgen::warm_up::WarmUpDone {
        queries: 3,
        ns: 1500,
    };

    fn inputs() -> (
        plan::Plan,
        sut::SutInfo,
        ScenarioRun,
        stats::ScenarioResult,
        SystemInfo,
        ProbeSummary,
    ) {
        let plan = plan::Plan {
            preset: "quick".into(),
            scenarios: vec![plan::Scenario::SingleStream, plan::Scenario::Offline],
            mode: plan::Mode::Performance,
            settings: plan::LoadGenSettings {
                min_duration_ns: 1_000_000_000,
                max_duration_ns: 0,
                min_query_count: 100,
                max_query_count: 0,
                performance_sample_count: 64,
                total_sample_count: 64,
                qsl_rng_seed: 1,
                sample_index_rng_seed: 2,
                target_percentile: 0.9,
                offline_expected_qps: 50.0,
                warm_up: plan::WarmUp::Queries(3),
                max_stored_queries: 1000,
            },
            sut: plan::SutSpec::Model(plan::ModelSpec {
                path: "/m/net.tflite".into(),
                input_shapes: vec![("x".into(), vec![1, 96, 96, 3])],
                inputs: vec![],
                instances: 2,
                threads: 1,
                // Per scenario: the SingleStream record below must say 4-5.
                cpus: plan::Pinning {
                    single_stream: vec![4, 5],
                    offline: vec![0, 1, 2, 3, 4, 5],
                },
            }),
            trace: true,
            calibrate_offline_qps: false,
            dataset: None,
            board: None,
            warnings: vec![],
        };
        let sut = sut::SutInfo {
            kind: "tract".into(),
            description: "tract".into(),
            model: Some(sut::ModelInfo {
                file_name: "net.tflite".into(),
                size_bytes: 300_000,
                sha256: [7; 32],
                format: sut::ModelFormat::Tflite,
                built_in: false,
                inputs: vec![sut::TensorInfo {
                    name: "x".into(),
                    shape: vec![1, 96, 96, 3],
                    dtype: "i8".into(),
                }],
                outputs: vec![],
            }),
            load_ns: 5_000_000,
            first_inference_ns: 700_000,
            instances: 2,
            threads: 1,
            offline_threads: 3,
            cpus: plan::Pinning {
                single_stream: vec![4, 5],
                offline: vec![0, 1, 2, 3, 4, 5],
            },
            engine: None,
            input_set: Some(crate::engine::budget::InputSetInfo {
                budget_bytes: 8 << 20,
                distinct_samples: 12,
                sample_bytes: 602_112,
                loaded_samples: 1024,
            }),
            warnings: Vec::new(),
        };
        let run = ScenarioRun {
            scenario: plan::Scenario::SingleStream,
            loaded_set: vec![3, 1, 2],
            issued_sample_index: vec![1, 2, 1],
            latency_ns: vec![500, 400, 600],
            start_ns: 10,
            duration_ns: 1_000_000_001,
            aborted: true,
            store_full: false,
        };
        let es = stats::EarlyStopping {
            percentile: 0.9,
            min_queries: 64,
            met: false,
            t: 0,
            estimate_ns: None,
        };
        let result = stats::ScenarioResult {
            scenario: plan::Scenario::SingleStream,
            query_count: 3,
            sample_count: 3,
            duration_ns: 1_000_000_001,
            min_ns: 400,
            max_ns: 600,
            mean_ns: 500,
            percentiles: stats::Percentiles {
                p50: 500,
                p90: 600,
                p95: 600,
                p97: 600,
                p99: 600,
                p999: 600,
            },
            target_percentile_ns: 600,
            early_stopping_90: Some(es.clone()),
            early_stopping_99: None,
            qps_with_overhead: 2.0,
            qps_without_overhead: 2e6,
            samples_per_second: 3.0,
            min_duration_met: true,
            min_queries_met: false,
            valid: false,
            invalid_reasons: vec![
                stats::InvalidReason::MinQueriesNotMet,
                stats::InvalidReason::Aborted,
            ],
        };
        let system = SystemInfo {
            hostname: Some("box".into()),
            cores: 8,
            cpufreq: vec![probe::CoreFreqPolicy {
                cpu: 0,
                governor: Some("powersave".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let sensors = ProbeSummary {
            samples: 2,
            cores: vec![probe::CoreFreqRange {
                cpu: 0,
                min_khz: 1_000_000,
                max_khz: 2_000_000,
            }],
            warnings: vec!["cannot read /sys/x: boom".into()],
            ..Default::default()
        };
        (plan, sut, run, result, system, sensors)
    }

    #[test]
    fn power_is_estimated_from_the_board_only_without_a_sensor() {
        let (mut plan, sut, run, result, system, mut sensors) = inputs();
        plan.board = Some(plan::BoardChoice {
            name: "rpi4".into(),
            detected: true,
        });
        let facts = |plan: &plan::Plan, sensors: &ProbeSummary| {
            Record::from_run(&RunFacts {
                plan,
                settings: &plan.settings,
                sut: &sut,
                scenario: Some((&run, &result)),
                warm_up: WARM_UP,
                accuracy: None,
                accuracy_details: None,
                system: &system,
                sensors,
                rss_before_load_bytes: None,
                peak_rss_bytes: None,
                run_id: 1,
                wall_start_ns: 0,
                wall_end_ns: 1,
                warnings: &crate::warnings::Warnings::default(),
            })
        };
        let r = facts(&plan, &sensors);
        let e = r.power_estimate.as_ref().expect("rpi4 has a nominal power");
        assert_eq!((e.board.as_str(), e.milliwatts), ("rpi4", 6400));
        assert!(!e.source.is_empty());
        assert_eq!(r.watts(), Some((6.4, PowerBasis::Estimated)));
        let (per_w, basis) = r.samples_per_watt().unwrap();
        assert_eq!(basis, PowerBasis::Estimated);
        assert!((per_w - 3.0 / 6.4).abs() < 1e-12);
        // A measured total wins: no estimate in the record at all.
        sensors.energy = Some(probe::EnergySummary {
            source: probe::EnergySource::HwmonPower,
            total_uj: Some(5_000_000),
            span_ns: 1_000_000_000,
            rails: vec![],
        });
        let r = facts(&plan, &sensors);
        assert!(r.power_estimate.is_none());
        assert_eq!(r.watts(), Some((5.0, PowerBasis::Measured)));
        // No board profile, no sensor: no per-watt figure.
        plan.board = None;
        sensors.energy = None;
        let r = facts(&plan, &sensors);
        assert!(r.power_estimate.is_none() && r.watts().is_none());
    }

    #[test]
    fn maps_every_source_field() {
        let (plan, sut, run, result, system, sensors) = inputs();
        let mut warnings = crate::warnings::Warnings::default();
        warnings.push(crate::warnings::RunWarning::Given(
            "latency store nearly full".into(),
        ));
        let facts = RunFacts {
            plan: &plan,
            settings: &plan.settings,
            sut: &sut,
            scenario: Some((&run, &result)),
            warm_up: WARM_UP,
            accuracy: None,
            accuracy_details: None,
            system: &system,
            sensors: &sensors,
            rss_before_load_bytes: Some(1),
            peak_rss_bytes: Some(2),
            run_id: 99,
            wall_start_ns: 1000,
            wall_end_ns: 2000,
            warnings: &warnings,
        };
        let r = Record::from_run(&facts);
        assert_eq!(r.tool.version, env!("CARGO_PKG_VERSION"));
        assert!(!r.tool.git_hash.is_empty() && !r.tool.target.is_empty());
        assert_eq!((r.run_id, r.wall_start_ns, r.wall_end_ns), (99, 1000, 2000));
        assert_eq!(r.host.hostname, "box");
        assert_eq!(r.host.cores, 8);
        assert_eq!(r.sut.model.as_ref().unwrap().format, ModelFormat::Tflite);
        assert_eq!(r.sut.model.as_ref().unwrap().sha256, [7; 32]);
        // The SingleStream record keeps SingleStream's cores, not Offline's.
        assert_eq!(r.sut.cpus, vec![4, 5]);
        assert_eq!(r.plan.cpus, vec![4, 5]);
        assert_eq!((r.sut.threads, r.sut.offline_threads), (1, 3));
        let set = r.input_set.as_ref().unwrap();
        assert_eq!(
            (
                set.budget_bytes,
                set.distinct_samples,
                set.sample_bytes,
                set.loaded_samples
            ),
            (8 << 20, 12, 602_112, 1024)
        );
        assert_eq!(r.plan.preset, "quick");
        assert_eq!(r.plan.scenario, Scenario::SingleStream);
        assert_eq!(r.plan.sut, SutSpec::Model("/m/net.tflite".into()));
        assert_eq!(
            r.plan.input_shapes,
            vec![("x".to_string(), vec![1, 96, 96, 3])]
        );
        assert_eq!((r.plan.instances, r.plan.threads), (2, 1));
        assert_eq!(r.plan.settings.sample_index_rng_seed, 2);
        assert_eq!(r.plan.settings.warm_up, WarmUp::Queries(3));
        assert_eq!(r.result.as_ref().unwrap().p90_ns, 600);
        assert_eq!(
            r.result
                .as_ref()
                .unwrap()
                .early_stopping_90
                .as_ref()
                .unwrap()
                .estimate_ns,
            None
        );
        assert!(r.result.as_ref().unwrap().early_stopping_99.is_none());
        assert_eq!(
            r.result.as_ref().unwrap().invalid_reasons,
            vec![InvalidReason::MinQueriesNotMet, InvalidReason::Aborted]
        );
        assert_eq!(
            r.timing,
            Timing {
                load_ns: 5_000_000,
                first_inference_ns: 700_000,
                warm_up_queries: 3,
                warm_up_ns: 1500,
                aborted: true,
                store_full: false
            }
        );
        assert_eq!(
            r.memory,
            Memory {
                rss_before_load_bytes: Some(1),
                peak_rss_bytes: Some(2)
            }
        );
        assert_eq!(
            r.sensors.cores,
            vec![CoreFreqs {
                cpu: 0,
                min_khz: 1_000_000,
                max_khz: 2_000_000
            }]
        );
        // Run warnings first, then governor, frequency change and sensor read problems.
        assert_eq!(r.warnings.len(), 4, "{:?}", r.warnings);
        assert_eq!(r.warnings[0], "latency store nearly full");
        assert!(r.warnings[1].contains("\"powersave\""));
        assert!(r.warnings[2].contains("cpu0 1000-2000 MHz"));
        assert!(r.warnings[3].contains("/sys/x"));
        let h = r.latency_histogram.as_ref().unwrap();
        assert_eq!(h.total(), 3);
        // Midpoints of the buckets of 400 ns ([400, 401]) and 600 ns ([600, 603]).
        assert_eq!(h.quantile(0.0), Some(400));
        assert_eq!(h.quantile(1.0), Some(601));
        assert_eq!(h.ranges().last(), Some((600, 603, 1)));
        let e = r.engine.as_ref().unwrap();
        assert_eq!((e.name.as_str(), e.version.as_str()), ("tract", "0.23.9"));
        assert_eq!((e.protocol_version, e.round_trip_ns), (0, 0));
        assert!(e.command.is_empty() && e.stderr_tail.is_empty());
        // input_set: checked above, from the SUT's loaded random inputs.
        let t = r.trace.as_ref().unwrap();
        assert_eq!(t.issued_sample_index, vec![1, 2, 1]);
        assert_eq!(t.latency_ns, vec![500, 400, 600]);
        assert_eq!(Record::decode(&r.encode()).unwrap(), r);

        let mut untraced = plan.clone();
        untraced.trace = false;
        let r = Record::from_run(&RunFacts {
            plan: &untraced,
            ..facts
        });
        assert!(r.trace.is_none());
    }
}

/// What the fuzz target does, on a fixed budget in every `cargo test`: payloads
/// behind a valid header and CRC (so postcard decoding is reached) never panic.
#[test]
fn mutated_payloads_behind_a_valid_crc_never_panic() {
    fn frame(version: u16, payload: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&MAGIC);
        b.extend_from_slice(&version.to_le_bytes());
        b.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        b.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        b.extend_from_slice(payload);
        b
    }
    // Every reader: the current one, version 3's, version 2's and version 1's.
    for (version, good) in [
        (SCHEMA_VERSION, example_record(11).encode()),
        (3, unhex(GOLDEN_V3_HEX)),
        (2, unhex(GOLDEN_V2_HEX)),
        (1, unhex(GOLDEN_V1_HEX)),
    ] {
        let payload = &good[HEADER_LEN..];
        let mut x: u64 = 0x0bad_cafe;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (mut ok, mut err) = (0, 0);
        for i in 0..5000 {
            let mut p = payload.to_vec();
            match i % 3 {
                0 => {
                    let at = (rnd() as usize) % p.len();
                    p[at] = rnd() as u8;
                }
                1 => p.truncate((rnd() as usize) % p.len()),
                _ => p = (0..(rnd() % 400)).map(|_| rnd() as u8).collect(),
            }
            match Record::decode(&frame(version, &p)) {
                Ok(r) => {
                    ok += 1;
                    let once = r.encode();
                    assert_eq!(Record::decode(&once).unwrap().encode(), once);
                }
                Err(DecodeError::Payload(_)) => err += 1,
                Err(e) => panic!("framing was valid, got {e}"),
            }
        }
        assert!(err > 0, "mutations never broke the payload: {ok} ok");
    }
}
