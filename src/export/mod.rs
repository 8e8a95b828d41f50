//! Presentation of finished results, one file per output format; nothing here
//! measures or changes a result.

pub mod accuracy;
