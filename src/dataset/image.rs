//! Image samples: JPEG/PNG decoding (pure Rust, the `image` crate) and the
//! preprocessing users know by name (`imagenet-torch`, `imagenet-tf`, `raw-u8`),
//! laid out and quantised the way the model's input asks.
//!
//! The resize reproduces PIL's `Image.resize(..., BILINEAR)` (what torchvision's
//! `Resize` calls on PIL images) bit for bit on 8-bit data: a separable triangle
//! filter whose support widens with the scale factor when downscaling (so it
//! averages instead of skipping pixels), 22-bit fixed-point coefficients, and an
//! 8-bit rounded intermediate between the horizontal and vertical passes. Models
//! are trained on exactly that; a plain 2-tap bilinear gives visibly different
//! tensors when shrinking photos several times.

use std::path::{Path, PathBuf};

use super::jpeg::check_pixels;
use super::{DType, Dataset, DatasetError, InputSpec, Quant, Tensor, TensorData};
pub use crate::plan::CropRounding;

/// An 8-bit RGB image, row-major, interleaved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb8 {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl Rgb8 {
    pub fn new(width: usize, height: usize, data: Vec<u8>) -> Self {
        assert_eq!(data.len(), width * height * 3, "RGB buffer size");
        Rgb8 {
            width,
            height,
            data,
        }
    }
}

/// What the `image` crate may allocate while decoding one image (a 16-bit
/// RGBA PNG of 32 Mpx), instead of its default 512 MiB.
const MAX_DECODE_BYTES: u64 = 256 << 20;

/// Decode a JPEG or PNG file into RGB: alpha is dropped (not blended, as PIL's
/// `convert("RGB")` does) and grey is replicated into three channels.
pub fn decode(path: &Path) -> Result<Rgb8, DatasetError> {
    let bytes = std::fs::read(path).map_err(|source| DatasetError::Io {
        path: path.to_owned(),
        source,
    })?;
    decode_bytes(&bytes, path)
}

/// `decode` for bytes already in memory; `path` only names the sample in errors.
pub fn decode_bytes(bytes: &[u8], path: &Path) -> Result<Rgb8, DatasetError> {
    let format = image::guess_format(bytes).map_err(|e| DatasetError::Decode {
        path: path.to_owned(),
        why: e.to_string(),
    })?;
    if !matches!(format, image::ImageFormat::Png | image::ImageFormat::Jpeg) {
        return Err(DatasetError::Decode {
            path: path.to_owned(),
            why: format!("unsupported image format {format:?} (PNG and JPEG only)"),
        });
    }
    if format == image::ImageFormat::Jpeg {
        match super::jpeg::decode(bytes) {
            Ok(Some((w, h, data))) => return Ok(Rgb8::new(w, h, data)),
            Ok(None) => {} // progressive, CMYK, ...: the general decoder below
            Err(why) => {
                return Err(DatasetError::Decode {
                    path: path.to_owned(),
                    why: format!("corrupt JPEG: {why}"),
                });
            }
        }
    }
    let bad = |e: image::ImageError| DatasetError::Decode {
        path: path.to_owned(),
        why: e.to_string(),
    };
    // The header's size is checked before any pixel buffer exists: the crate's
    // default 512 MiB allowance let a 125-byte PNG declaring 16777216x16 grey
    // with alpha allocate 512 MiB before its data ran out (found by fuzzing).
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(bad)?;
    let (w, h) = image::ImageDecoder::dimensions(&decoder);
    check_pixels(w as usize, h as usize).map_err(|why| DatasetError::Decode {
        path: path.to_owned(),
        why: why.to_string(),
    })?;
    let img = image::DynamicImage::from_decoder(decoder).map_err(bad)?;
    let rgb = img.into_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    if w == 0 || h == 0 {
        return Err(DatasetError::Decode {
            path: path.to_owned(),
            why: "empty image".into(),
        });
    }
    Ok(Rgb8::new(w, h, rgb.into_raw()))
}

/// PIL's fixed-point precision for 8-bit resampling (Resample.c).
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Per-output-pixel filter taps along one axis: first input index, count, and
/// fixed-point weights (`ksize` slots per output pixel).
struct Taps {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
}

fn triangle(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 { 1.0 - x } else { 0.0 }
}

/// PIL's `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear filter,
/// keeping its C truncations (`(int)` casts) so results match to the bit.
fn taps(in_size: usize, out_size: usize) -> Taps {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filterscale; // bilinear support is 1.0
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = vec![0i32; out_size * ksize];
    let mut k = vec![0f64; ksize];
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // `as i64` truncates toward zero like C's (int).
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let n = xmax.saturating_sub(xmin);
        let mut ww = 0.0;
        for (x, slot) in k.iter_mut().enumerate().take(n) {
            let w = triangle((x as f64 + xmin as f64 - center + 0.5) * ss);
            *slot = w;
            ww += w;
        }
        for x in 0..n {
            let w = if ww != 0.0 { k[x] / ww } else { k[x] };
            let f = w * (1u32 << PRECISION_BITS) as f64;
            weights[xx * ksize + x] = if w < 0.0 {
                (-0.5 + f) as i32
            } else {
                (0.5 + f) as i32
            };
        }
        bounds.push((xmin, n));
    }
    Taps {
        ksize,
        bounds,
        weights,
    }
}

fn clip8(v: i64) -> u8 {
    if v >= (1i64 << PRECISION_BITS << 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

/// Resize like PIL's `Image.resize((width, height), Image.BILINEAR)` on an RGB
/// image: horizontal pass then vertical, each rounded to 8 bits.
pub fn resize_bilinear(img: &Rgb8, width: usize, height: usize) -> Rgb8 {
    let mut cur = img.clone();
    if width != img.width {
        let t = taps(img.width, width);
        let mut out = vec![0u8; width * img.height * 3];
        for y in 0..img.height {
            let row = &img.data[y * img.width * 3..(y + 1) * img.width * 3];
            for xx in 0..width {
                let (xmin, n) = t.bounds[xx];
                let k = &t.weights[xx * t.ksize..xx * t.ksize + n];
                for c in 0..3 {
                    let mut ss = 1i64 << (PRECISION_BITS - 1);
                    for (x, &w) in k.iter().enumerate() {
                        ss += row[(xmin + x) * 3 + c] as i64 * w as i64;
                    }
                    out[(y * width + xx) * 3 + c] = clip8(ss);
                }
            }
        }
        cur = Rgb8::new(width, img.height, out);
    }
    if height != cur.height {
        let t = taps(cur.height, height);
        let w3 = cur.width * 3;
        let mut out = vec![0u8; w3 * height];
        for yy in 0..height {
            let (ymin, n) = t.bounds[yy];
            let k = &t.weights[yy * t.ksize..yy * t.ksize + n];
            for i in 0..w3 {
                let mut ss = 1i64 << (PRECISION_BITS - 1);
                for (y, &w) in k.iter().enumerate() {
                    ss += cur.data[(ymin + y) * w3 + i] as i64 * w as i64;
                }
                out[yy * w3 + i] = clip8(ss);
            }
        }
        cur = Rgb8::new(cur.width, height, out);
    }
    cur
}

/// Output size for "short side to `short`": the long side scales by the same
/// factor, rounded to nearest (ties to even, as Python's `round`). The reference
/// tensors were made this way (chelsea 451x300 -> 385x256); truncating, as
/// torchvision's `Resize(int)` does, gives 384 and shifts the crop by a pixel.
pub fn short_side_size(width: usize, height: usize, short: usize) -> (usize, usize) {
    let scaled = |long: usize, short_in: usize| {
        ((short * long) as f64 / short_in as f64).round_ties_even() as usize
    };
    if width <= height {
        (short, scaled(height, width))
    } else {
        (scaled(width, height), short)
    }
}

/// torchvision's `CenterCrop` offsets: `int(round((in - out) / 2))`, with Python's
/// round-half-to-even, which picks the other pixel on odd margins.
pub fn center_crop_offset(in_size: usize, out_size: usize) -> usize {
    CropRounding::HalfEven.offset(in_size, out_size)
}

/// Centre crop, odd margins placed by `rounding`; `None` when the image is
/// smaller than the crop.
pub fn center_crop(
    img: &Rgb8,
    width: usize,
    height: usize,
    rounding: CropRounding,
) -> Option<Rgb8> {
    if img.width < width || img.height < height {
        return None;
    }
    let left = rounding.offset(img.width, width);
    let top = rounding.offset(img.height, height);
    let mut out = Vec::with_capacity(width * height * 3);
    for y in top..top + height {
        let start = (y * img.width + left) * 3;
        out.extend_from_slice(&img.data[start..start + width * 3]);
    }
    Some(Rgb8::new(width, height, out))
}

/// Where the channel axis sits in a 4-D image input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Nchw,
    Nhwc,
}

/// Preprocessing presets, named after the pipelines users know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// torchvision's ImageNet eval: resize short side 256, crop 224, /255, mean/std.
    ImagenetTorch,
    /// TF/Keras "inception" scaling: same resize, the crop placed like TF's
    /// `central_crop` (truncated offset), then (x - 127.5) / 127.5.
    ImagenetTf,
    /// Same resize and crop, pixels as they are (0..255).
    RawU8,
}

impl std::str::FromStr for Preset {
    type Err = DatasetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "imagenet-torch" => Ok(Preset::ImagenetTorch),
            "imagenet-tf" => Ok(Preset::ImagenetTf),
            "raw-u8" => Ok(Preset::RawU8),
            _ => Err(DatasetError::Preprocess(format!(
                "unknown preprocessing preset {s:?} (imagenet-torch, imagenet-tf, raw-u8)"
            ))),
        }
    }
}

/// Preprocessing as configured: a preset plus optional overrides. Sizes left
/// `None` come from the model input (crop) and the preset's 256/224 ratio (resize).
#[derive(Debug, Clone, PartialEq)]
pub struct PreprocessConfig {
    pub preset: Preset,
    /// Short side after resizing.
    pub resize_short: Option<usize>,
    /// (width, height) of the centre crop.
    pub crop: Option<(usize, usize)>,
    pub mean: Option<[f32; 3]>,
    pub std: Option<[f32; 3]>,
    /// Where odd crop margins go; None = the preset's convention.
    pub crop_rounding: Option<CropRounding>,
}

impl PreprocessConfig {
    pub fn preset(preset: Preset) -> Self {
        PreprocessConfig {
            preset,
            resize_short: None,
            crop: None,
            mean: None,
            std: None,
            crop_rounding: None,
        }
    }
}

/// Preprocessing resolved against one model input: every number fixed.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    pub resize_short: usize,
    pub crop: (usize, usize),
    pub crop_rounding: CropRounding,
    /// value = (pixel / divisor - mean) / std, per channel.
    pub divisor: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// Deliver raw pixel codes to u8/i8 inputs instead of quantising real values.
    pub raw: bool,
    pub layout: Layout,
    pub dtype: DType,
    pub quant: Option<Quant>,
    shape: Vec<usize>,
}

const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The layout and (height, width) of a single-image input shape.
fn image_layout(s: &[usize]) -> Result<(Layout, usize, usize), DatasetError> {
    let bad = |why: String| DatasetError::Preprocess(why);
    if s.len() != 4 || s[0] != 1 {
        return Err(bad(format!(
            "model input shape {s:?} is not a single image (1,3,H,W or 1,H,W,3)"
        )));
    }
    if s[1] == 3 {
        Ok((Layout::Nchw, s[2], s[3]))
    } else if s[3] == 3 {
        Ok((Layout::Nhwc, s[1], s[2]))
    } else {
        Err(bad(format!(
            "model input shape {s:?} has no 3-channel axis (1,3,H,W or 1,H,W,3)"
        )))
    }
}

/// The scale and zero point real values are quantised with for an 8-bit
/// input; None for float inputs and raw pixel codes.
fn input_quant(spec: &InputSpec, raw: bool) -> Result<Option<Quant>, DatasetError> {
    let bad = |why: String| DatasetError::Preprocess(why);
    match spec.dtype {
        DType::F32 => Ok(None),
        DType::I8 | DType::U8 if raw => Ok(None),
        DType::I8 | DType::U8 => match spec.quant {
            Some(q) if q.scale > 0.0 && q.scale.is_finite() => Ok(Some(q)),
            Some(q) => Err(bad(format!(
                "input quantisation scale {} is not positive",
                q.scale
            ))),
            None => Err(bad(
                "integer model input without a scale and zero point; pass them or use raw-u8"
                    .into(),
            )),
        },
        // Engines describe image inputs as f32, i8 or u8 only.
        other => Err(bad(format!(
            "model input of type {} cannot take images (f32, i8, u8 only)",
            other.name()
        ))),
    }
}

impl Preprocess {
    /// Resolve `config` for the model input `spec` (layout from where the 3-channel
    /// axis is, crop from the spatial dims). Errors before any sample is read.
    pub fn new(config: &PreprocessConfig, spec: &InputSpec) -> Result<Self, DatasetError> {
        let bad = |why: String| DatasetError::Preprocess(why);
        let (layout, h, w) = image_layout(&spec.shape)?;
        let crop = config.crop.unwrap_or((w, h));
        if crop != (w, h) {
            return Err(bad(format!(
                "crop {}x{} does not match the model input {w}x{h}",
                crop.0, crop.1
            )));
        }
        // 256/224 is ImageNet's usual crop ratio; keep it for other input sizes.
        let resize_short = config
            .resize_short
            .unwrap_or_else(|| (crop.0.min(crop.1) as f64 * 256.0 / 224.0).round() as usize);
        if resize_short < crop.0.min(crop.1) {
            return Err(bad(format!(
                "resize short side {resize_short} is smaller than the crop {}x{}",
                crop.0, crop.1
            )));
        }
        use CropRounding::{HalfEven, Truncate};
        let (divisor, mean0, std0, raw, rounding) = match config.preset {
            Preset::ImagenetTorch => (255.0, IMAGENET_MEAN, IMAGENET_STD, false, HalfEven),
            Preset::ImagenetTf => (1.0, [127.5; 3], [127.5; 3], false, Truncate),
            Preset::RawU8 => (1.0, [0.0; 3], [1.0; 3], true, HalfEven),
        };
        let mean = config.mean.unwrap_or(mean0);
        let std = config.std.unwrap_or(std0);
        if std.iter().any(|&v| v == 0.0 || !v.is_finite()) || mean.iter().any(|v| !v.is_finite()) {
            return Err(bad(format!(
                "mean {mean:?} / std {std:?} must be finite, std non-zero"
            )));
        }
        let raw = raw && config.mean.is_none() && config.std.is_none();
        let quant = input_quant(spec, raw)?;
        Ok(Preprocess {
            resize_short,
            crop,
            crop_rounding: config.crop_rounding.unwrap_or(rounding),
            divisor,
            mean,
            std,
            raw,
            layout,
            dtype: spec.dtype,
            quant,
            shape: spec.shape.clone(),
        })
    }

    /// Resize and crop only: the 8-bit image the model will see.
    pub fn geometry(&self, img: &Rgb8) -> Rgb8 {
        let (w, h) = short_side_size(img.width, img.height, self.resize_short);
        let resized = resize_bilinear(img, w, h);
        // Cannot fail: both resized sides are >= resize_short >= the crop sides.
        center_crop(&resized, self.crop.0, self.crop.1, self.crop_rounding)
            .expect("crop fits after resize")
    }

    /// The model input tensor for one decoded image.
    pub fn apply(&self, img: &Rgb8) -> Tensor {
        let img = self.geometry(img);
        let (w, h) = self.crop;
        let idx = |y: usize, x: usize, c: usize| match self.layout {
            Layout::Nchw => (c * h + y) * w + x,
            Layout::Nhwc => (y * w + x) * 3 + c,
        };
        let n = w * h * 3;
        let data = if self.raw && self.dtype != DType::F32 {
            let mut out = vec![0u8; n];
            for y in 0..h {
                for x in 0..w {
                    for c in 0..3 {
                        out[idx(y, x, c)] = img.data[(y * w + x) * 3 + c];
                    }
                }
            }
            match self.dtype {
                // Raw codes into a signed input: shift by 128 (zero point -128).
                DType::I8 => TensorData::I8(out.iter().map(|&v| (v as i16 - 128) as i8).collect()),
                _ => TensorData::U8(out),
            }
        } else {
            let mut out = vec![0f32; n];
            for y in 0..h {
                for x in 0..w {
                    for c in 0..3 {
                        let p = img.data[(y * w + x) * 3 + c] as f32;
                        out[idx(y, x, c)] = (p / self.divisor - self.mean[c]) / self.std[c];
                    }
                }
            }
            match (self.dtype, self.quant) {
                (DType::I8, Some(q)) => TensorData::I8(
                    out.iter()
                        .map(|&v| quantize(v, q).clamp(-128, 127) as i8)
                        .collect(),
                ),
                (DType::U8, Some(q)) => TensorData::U8(
                    out.iter()
                        .map(|&v| quantize(v, q).clamp(0, 255) as u8)
                        .collect(),
                ),
                _ => TensorData::F32(out),
            }
        };
        Tensor {
            shape: self.shape.clone(),
            data,
            quant: self.quant,
        }
    }
}

/// `round(x / scale) + zero_point`, ties to even as numpy and TFLite's converter do.
pub fn quantize(x: f32, q: Quant) -> i32 {
    (x / q.scale).round_ties_even() as i32 + q.zero_point
}

/// A folder of images, in a given order (usually the labels file's).
#[derive(Debug, Clone)]
pub struct ImageFolder {
    dir: PathBuf,
    files: Vec<String>,
    prep: Preprocess,
}

impl ImageFolder {
    /// `files` relative to `dir`. Nothing is read yet: a missing or corrupt file
    /// fails only its own sample, when it is loaded.
    pub fn new(dir: &Path, files: Vec<String>, prep: Preprocess) -> Self {
        ImageFolder {
            dir: dir.to_owned(),
            files,
            prep,
        }
    }

    /// Every `.jpg`/`.jpeg`/`.png` in `dir`, sorted by name (for unlabelled runs).
    pub fn scan(dir: &Path, prep: Preprocess) -> Result<Self, DatasetError> {
        let files = super::list_files(dir, &[".jpg", ".jpeg", ".png"])?;
        Ok(Self::new(dir, files, prep))
    }

    pub fn preprocess(&self) -> &Preprocess {
        &self.prep
    }
}

impl Dataset for ImageFolder {
    fn len(&self) -> usize {
        self.files.len()
    }

    fn name(&self, index: usize) -> &str {
        &self.files[index]
    }

    fn load(&self, index: usize) -> Result<Tensor, DatasetError> {
        let img = decode(&self.dir.join(&self.files[index]))?;
        Ok(self.prep.apply(&img))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(width: usize, height: usize, px: &[u8]) -> Rgb8 {
        Rgb8::new(width, height, px.iter().flat_map(|&v| [v, v, v]).collect())
    }

    fn channel0(img: &Rgb8) -> Vec<u8> {
        img.data.iter().step_by(3).copied().collect()
    }

    /// Found by fuzzing: a 125-byte PNG declaring 16777216x16 grey with alpha
    /// made the `image` crate allocate 512 MiB before its data ran out; the
    /// size is now refused from the header, naming it.
    #[test]
    fn huge_declared_size_is_refused_before_decoding() {
        let found = include_bytes!("../../fuzz/regressions/image/png-huge-header-alloc.png");
        let e = decode_bytes(found, Path::new("x.png"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.png") && e.contains("16777216x16"), "{e}");
        assert!(check_pixels(8192, 8192).is_ok());
        assert!(check_pixels(8192, 8193).is_err());
        assert!(check_pixels(0, 5).is_err());
    }

    #[test]
    fn downscale_by_two_widens_the_filter() {
        // Scale 2: the triangle spans 2 input pixels each side (centres at i + 0.5).
        // out0 (centre 1.0): inputs 0,1,2 at distances 0.5,0.5,1.5 -> weights
        //   3/4,3/4,1/4 -> (0*3 + 40*3 + 80*1) / 7 = 28.57 -> 29.
        // out1 (centre 3.0): inputs 1,2,3 (4 is outside) -> weights 1/4,3/4,3/4
        //   -> (40*1 + 80*3 + 160*3) / 7 = 108.57 -> 109.
        let img = grey(4, 1, &[0, 40, 80, 160]);
        let out = resize_bilinear(&img, 2, 1);
        assert_eq!(channel0(&out), vec![29, 109]);
    }

    #[test]
    fn upscale_interpolates_between_neighbours() {
        // Scale 1/2: output centres at 0.25, 0.75, 1.25, 1.75 in input coordinates;
        // 2-tap weights 3/4,1/4 in the middle; at the edges only one pixel is in range.
        let img = grey(2, 1, &[0, 100]);
        let out = resize_bilinear(&img, 4, 1);
        assert_eq!(channel0(&out), vec![0, 25, 75, 100]);
    }

    #[test]
    fn vertical_pass_matches_horizontal() {
        let img = grey(1, 4, &[0, 40, 80, 160]);
        let out = resize_bilinear(&img, 1, 2);
        assert_eq!(channel0(&out), vec![29, 109]);
    }

    #[test]
    fn same_size_is_identity() {
        let px: Vec<u8> = (0..30).map(|i| (i * 8) as u8).collect();
        let img = Rgb8::new(5, 2, px);
        assert_eq!(resize_bilinear(&img, 5, 2), img);
    }

    #[test]
    fn short_side_and_crop_follow_the_reference() {
        assert_eq!(short_side_size(512, 384, 256), (341, 256)); // 341.33
        assert_eq!(short_side_size(300, 451, 256), (256, 385)); // 384.85
        assert_eq!(short_side_size(2, 3, 1), (1, 2)); // 1.5 ties to even
        assert_eq!(short_side_size(2, 5, 1), (1, 2)); // 2.5 ties to even
        assert_eq!(center_crop_offset(341, 224), 58); // 58.5 rounds to even
        assert_eq!(center_crop_offset(343, 224), 60); // 59.5 rounds to even
        assert_eq!(center_crop_offset(256, 224), 16);
        // butterfly.jpg 493x356 -> 355x256: torchvision puts the 224 crop at
        // x = 66 (65.5 to even), TF's central_crop and MLPerf at 65.
        assert_eq!(CropRounding::HalfEven.offset(355, 224), 66);
        assert_eq!(CropRounding::Truncate.offset(355, 224), 65);
        assert_eq!(CropRounding::Truncate.offset(343, 224), 59);
        let img = grey(4, 3, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        // 4-2 = 2 -> left 1; 3-2 = 1 -> 0.5 -> top 0.
        assert_eq!(
            channel0(&center_crop(&img, 2, 2, CropRounding::HalfEven).unwrap()),
            vec![1, 2, 5, 6]
        );
        assert!(center_crop(&img, 5, 2, CropRounding::HalfEven).is_none());
    }

    fn spec(shape: Vec<usize>, dtype: DType, quant: Option<Quant>) -> InputSpec {
        InputSpec {
            shape,
            dtype,
            quant,
        }
    }

    #[test]
    fn layouts_and_normalisation() {
        // A 2x2 crop of a 2x2 image: no resampling, only value maps and layout.
        let img = Rgb8::new(2, 2, vec![255, 0, 51, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut cfg = PreprocessConfig::preset(Preset::ImagenetTorch);
        cfg.resize_short = Some(2);
        let nchw = Preprocess::new(&cfg, &spec(vec![1, 3, 2, 2], DType::F32, None)).unwrap();
        let t = nchw.apply(&img);
        let TensorData::F32(v) = &t.data else {
            panic!()
        };
        // pixel (0,0) R=255: (1 - 0.485)/0.229; G plane starts at index 4.
        assert!((v[0] - (1.0 - 0.485) / 0.229).abs() < 1e-6);
        assert!((v[4] - (0.0 - 0.456) / 0.224).abs() < 1e-6);
        assert!((v[8] - (0.2 - 0.406) / 0.225).abs() < 1e-6);
        let nhwc = Preprocess::new(&cfg, &spec(vec![1, 2, 2, 3], DType::F32, None)).unwrap();
        assert_eq!(nhwc.layout, Layout::Nhwc);
        let TensorData::F32(u) = &nhwc.apply(&img).data else {
            panic!()
        };
        assert_eq!((u[0], u[1], u[2]), (v[0], v[4], v[8]));

        let mut tf = PreprocessConfig::preset(Preset::ImagenetTf);
        tf.resize_short = Some(2);
        let p = Preprocess::new(&tf, &spec(vec![1, 2, 2, 3], DType::F32, None)).unwrap();
        let TensorData::F32(u) = &p.apply(&img).data else {
            panic!()
        };
        assert_eq!(&u[..3], &[1.0, -1.0, (51.0 - 127.5) / 127.5]);
    }

    #[test]
    fn integer_inputs_are_quantised_or_raw() {
        let img = Rgb8::new(1, 1, vec![255, 0, 128]);
        let mut cfg = PreprocessConfig::preset(Preset::ImagenetTf);
        cfg.resize_short = Some(1);
        let q = Quant {
            scale: 1.0 / 128.0,
            zero_point: -1,
        };
        let p = Preprocess::new(&cfg, &spec(vec![1, 1, 1, 3], DType::I8, Some(q))).unwrap();
        // 1.0*128 - 1 = 127; -1*128 - 1 = -129 -> clamped -128; (0.5/127.5)*128 = 0.502 -> 1 - 1 = 0
        assert_eq!(p.apply(&img).data, TensorData::I8(vec![127, -128, 0]));
        let missing = Preprocess::new(&cfg, &spec(vec![1, 1, 1, 3], DType::I8, None));
        assert!(matches!(missing, Err(DatasetError::Preprocess(_))));

        let mut raw = PreprocessConfig::preset(Preset::RawU8);
        raw.resize_short = Some(1);
        let p = Preprocess::new(&raw, &spec(vec![1, 3, 1, 1], DType::U8, None)).unwrap();
        assert_eq!(p.apply(&img).data, TensorData::U8(vec![255, 0, 128]));
        let p = Preprocess::new(&raw, &spec(vec![1, 1, 1, 3], DType::I8, None)).unwrap();
        assert_eq!(p.apply(&img).data, TensorData::I8(vec![127, -128, 0]));
    }

    #[test]
    fn bad_shapes_and_sizes_are_errors() {
        let cfg = PreprocessConfig::preset(Preset::ImagenetTorch);
        for shape in [vec![1, 1000], vec![2, 3, 224, 224], vec![1, 4, 224, 5]] {
            assert!(Preprocess::new(&cfg, &spec(shape, DType::F32, None)).is_err());
        }
        let mut small = cfg.clone();
        small.resize_short = Some(200);
        assert!(Preprocess::new(&small, &spec(vec![1, 3, 224, 224], DType::F32, None)).is_err());
        let p = Preprocess::new(&cfg, &spec(vec![1, 3, 224, 224], DType::F32, None)).unwrap();
        assert_eq!(p.resize_short, 256);
    }

    #[test]
    fn corrupt_and_unsupported_files_are_named() {
        let path = Path::new("broken.jpg");
        let err = decode_bytes(b"\xFF\xD8\xFF\xE0garbage", path).unwrap_err();
        assert!(err.to_string().contains("broken.jpg"), "{err}");
        let err = decode_bytes(b"GIF89a......", Path::new("a.gif")).unwrap_err();
        assert!(err.to_string().contains("a.gif"), "{err}");
    }
}
