//! Geohash arithmetic for the GEO commands: Redis's 52-bit interleaved
//! cell codes, their decoding to cell centres, neighbour cells, the choice
//! of cell size for a search, and great-circle distances.
//!
//! Owns numbers only: no keys, no clients, no sorted sets. A position is
//! stored as the sorted-set score `align52(encode(lon, lat, 26))`: 26 bits of
//! latitude in the even bit positions and 26 bits of longitude in the odd
//! ones, over the Web Mercator latitude limits (±85.05112878) rather than
//! ±90. Decoding gives the centre of the cell, which is why coordinates do
//! not round-trip exactly (GEOPOS shows the centre). Mirrors Redis 7.0's
//! geohash.c and geohash_helper.c, including the order of floating-point
//! operations, so distances and search results agree with Redis's to the
//! last bit on the same C library.

/// Precision of stored positions, in bits per coordinate.
pub const STEP_MAX: u8 = 26;
/// Southernmost latitude that can be indexed.
pub const LAT_MIN: f64 = -85.051_128_78;
/// Northernmost latitude that can be indexed.
pub const LAT_MAX: f64 = 85.051_128_78;
/// Westernmost longitude.
pub const LONG_MIN: f64 = -180.0;
/// Easternmost longitude.
pub const LONG_MAX: f64 = 180.0;

/// Mean Earth radius Redis uses for every distance (metres).
pub const EARTH_RADIUS_M: f64 = 6_372_797.560_856;
/// Half the Mercator world width (metres), the bound for estimating steps.
const MERCATOR_MAX: f64 = 20_037_726.37;
/// Degrees to radians.
const D_R: f64 = std::f64::consts::PI / 180.0;

fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}

fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

/// A cell code of `step` bits per coordinate (2*step bits in all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashBits {
    /// Interleaved bits: latitude in even positions, longitude in odd ones.
    pub bits: u64,
    /// Bits per coordinate, 1..=32; 0 together with `bits == 0` is "none".
    pub step: u8,
}

impl HashBits {
    /// The "no cell" marker used for pruned neighbours.
    pub const ZERO: HashBits = HashBits { bits: 0, step: 0 };

    /// True for the "no cell" marker.
    pub fn is_zero(self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

/// An interval of one coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Range {
    /// Lower bound.
    pub min: f64,
    /// Upper bound.
    pub max: f64,
}

impl Range {
    fn is_zero(self) -> bool {
        self.min == 0.0 && self.max == 0.0
    }
}

/// The longitude range Redis indexes.
pub const LONG_RANGE: Range = Range { min: LONG_MIN, max: LONG_MAX };
/// The latitude range Redis indexes.
pub const LAT_RANGE: Range = Range { min: LAT_MIN, max: LAT_MAX };

/// The rectangle a cell covers.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Area {
    /// The cell.
    pub hash: HashBits,
    /// Its longitudes.
    pub longitude: Range,
    /// Its latitudes.
    pub latitude: Range,
}

/// The eight cells around one cell.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Neighbors {
    /// North.
    pub north: HashBits,
    /// East.
    pub east: HashBits,
    /// West.
    pub west: HashBits,
    /// South.
    pub south: HashBits,
    /// North-east.
    pub north_east: HashBits,
    /// South-east.
    pub south_east: HashBits,
    /// North-west.
    pub north_west: HashBits,
    /// South-west.
    pub south_west: HashBits,
}

/// Spreads the 32 bits of `v` to the even positions of a u64.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    x = (x | (x << 1)) & 0x5555_5555_5555_5555;
    x
}

/// Gathers the even bits of `v` into a u32.
fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// `lat` in the even bits, `lon` in the odd bits.
pub fn interleave(lat: u32, lon: u32) -> u64 {
    spread(lat) | (spread(lon) << 1)
}

/// The inverse of [`interleave`]: `(lat, lon)`.
pub fn deinterleave(bits: u64) -> (u32, u32) {
    (squash(bits), squash(bits >> 1))
}

/// Encodes a position within the given ranges at `step` bits per
/// coordinate. None when the step is out of 1..=32, a range is empty, or
/// the position lies outside Redis's indexable limits or the ranges.
pub fn encode(long_range: Range, lat_range: Range, longitude: f64, latitude: f64, step: u8) -> Option<HashBits> {
    if step > 32 || step == 0 || lat_range.is_zero() || long_range.is_zero() {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&longitude) || !(LAT_MIN..=LAT_MAX).contains(&latitude) {
        return None;
    }
    if latitude < lat_range.min || latitude > lat_range.max || longitude < long_range.min || longitude > long_range.max
    {
        return None;
    }
    let mut lat_offset = (latitude - lat_range.min) / (lat_range.max - lat_range.min);
    let mut long_offset = (longitude - long_range.min) / (long_range.max - long_range.min);
    let cells = (1u64 << step) as f64;
    lat_offset *= cells;
    long_offset *= cells;
    // C converts to uint32_t by truncation; offsets are within [0, 2^step].
    Some(HashBits { bits: interleave(lat_offset as u32, long_offset as u32), step })
}

/// [`encode`] over Redis's standard ranges.
pub fn encode_wgs84(longitude: f64, latitude: f64, step: u8) -> Option<HashBits> {
    encode(LONG_RANGE, LAT_RANGE, longitude, latitude, step)
}

/// The rectangle of cell `hash` within the given ranges (None for the zero
/// cell or empty ranges).
pub fn decode(long_range: Range, lat_range: Range, hash: HashBits) -> Option<Area> {
    if hash.is_zero() || lat_range.is_zero() || long_range.is_zero() || hash.step > 63 {
        return None;
    }
    let (ilato, ilono) = deinterleave(hash.bits);
    let lat_scale = lat_range.max - lat_range.min;
    let long_scale = long_range.max - long_range.min;
    let cells = (1u64 << hash.step) as f64;
    // The upper edge is computed in 32-bit arithmetic, as in Redis (only a
    // garbage score can make it wrap).
    let (lat_lo, lat_hi) = (f64::from(ilato), f64::from(ilato.wrapping_add(1)));
    let (lon_lo, lon_hi) = (f64::from(ilono), f64::from(ilono.wrapping_add(1)));
    Some(Area {
        hash,
        latitude: Range {
            min: lat_range.min + (lat_lo / cells) * lat_scale,
            max: lat_range.min + (lat_hi / cells) * lat_scale,
        },
        longitude: Range {
            min: long_range.min + (lon_lo / cells) * long_scale,
            max: long_range.min + (lon_hi / cells) * long_scale,
        },
    })
}

/// The centre of an area as `(longitude, latitude)`, clamped to the
/// indexable limits.
pub fn area_center(area: &Area) -> (f64, f64) {
    let lon = ((area.longitude.min + area.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((area.latitude.min + area.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// C's double to `uint64_t` conversion as x86-64 performs it, so a score
/// that is no cell code (negative, huge) decodes where Redis decodes it.
fn c_double_to_u64(d: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let truncate = |x: f64| if (-TWO_63..TWO_63).contains(&x) { x as i64 } else { i64::MIN };
    if d < TWO_63 {
        truncate(d) as u64
    } else {
        (truncate(d - TWO_63) as u64) ^ (1 << 63)
    }
}

/// The position a sorted-set score stands for: the centre of its 26-bit
/// cell, `(longitude, latitude)`. Any score decodes (Redis converts it to
/// an unsigned integer first; out-of-range scores land on a clamped edge).
pub fn decode_score(score: f64) -> (f64, f64) {
    let hash = HashBits { bits: c_double_to_u64(score), step: STEP_MAX };
    match decode(LONG_RANGE, LAT_RANGE, hash) {
        Some(area) => area_center(&area),
        None => (0.0, 0.0),
    }
}

/// The sorted-set score of a cell: its bits shifted up to 52 bits.
pub fn align52(hash: HashBits) -> u64 {
    let shift = 52u32.saturating_sub(u32::from(hash.step) * 2);
    hash.bits << shift
}

/// The score of a position stored at full precision (GEOADD). None outside
/// the indexable limits.
pub fn score_of(longitude: f64, latitude: f64) -> Option<u64> {
    encode_wgs84(longitude, latitude, STEP_MAX).map(align52)
}

/// Moves a cell one step east (`d > 0`) or west (`d < 0`).
fn move_x(hash: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let shift = 64 - u32::from(hash.step) * 2;
    let mut x = hash.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = hash.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64 >> shift;
    if d > 0 {
        x = x.wrapping_add(zz.wrapping_add(1));
    } else {
        x |= zz;
        x = x.wrapping_sub(zz.wrapping_add(1));
    }
    x &= 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    hash.bits = x | y;
}

/// Moves a cell one step north (`d > 0`) or south (`d < 0`).
fn move_y(hash: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let shift = 64 - u32::from(hash.step) * 2;
    let x = hash.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let mut y = hash.bits & 0x5555_5555_5555_5555;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    if d > 0 {
        y = y.wrapping_add(zz.wrapping_add(1));
    } else {
        y |= zz;
        y = y.wrapping_sub(zz.wrapping_add(1));
    }
    y &= 0x5555_5555_5555_5555u64 >> shift;
    hash.bits = x | y;
}

/// The eight neighbours of `hash` (wrapping around at the edges of the
/// code space). Precondition: `1 <= hash.step <= 32`.
pub fn neighbors(hash: HashBits) -> Neighbors {
    let moved = |dx: i8, dy: i8| {
        let mut h = hash;
        move_x(&mut h, dx);
        move_y(&mut h, dy);
        h
    };
    Neighbors {
        east: moved(1, 0),
        west: moved(-1, 0),
        south: moved(0, -1),
        north: moved(0, 1),
        north_west: moved(-1, 1),
        north_east: moved(1, 1),
        south_east: moved(1, -1),
        south_west: moved(-1, -1),
    }
}

/// The cell size (bits per coordinate) for a search of `range_m` metres
/// around latitude `lat`: the largest cells for which the centre cell and
/// its neighbours still cover the range in most cases.
pub fn estimate_steps(range_m: f64, lat: f64) -> u8 {
    if range_m == 0.0 {
        return 26;
    }
    let mut range_m = range_m;
    let mut step: i32 = 1;
    while range_m < MERCATOR_MAX {
        range_m *= 2.0;
        step += 1;
    }
    step -= 2;
    // Meridians converge towards the poles: use larger cells there.
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// What a search covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ShapeKind {
    /// A circle of this radius (in the shape's unit).
    Radius(f64),
    /// An axis-aligned box of this width and height (in the shape's unit).
    Box {
        /// East-west extent.
        width: f64,
        /// North-south extent.
        height: f64,
    },
}

/// A search area: its centre, its extent, and the unit's size in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    /// Centre longitude.
    pub lon: f64,
    /// Centre latitude.
    pub lat: f64,
    /// Metres per unit of the extent.
    pub conversion: f64,
    /// Circle or box.
    pub kind: ShapeKind,
}

/// The cells to scan for a search: a centre cell and its neighbours (some
/// zeroed when they cannot hold a match).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchCells {
    /// The centre cell.
    pub hash: HashBits,
    /// Its neighbours.
    pub neighbors: Neighbors,
    /// The centre cell's rectangle.
    pub area: Area,
}

/// The bounding box of a shape as `[min_lon, min_lat, max_lon, max_lat]`;
/// longitudes use the parallel nearer the pole, the wider one.
pub fn bounding_box(shape: &Shape) -> [f64; 4] {
    let (height, width) = match shape.kind {
        ShapeKind::Radius(r) => (shape.conversion * r, shape.conversion * r),
        ShapeKind::Box { width, height } => (shape.conversion * (height / 2.0), shape.conversion * (width / 2.0)),
    };
    let lat_delta = rad_deg(height / EARTH_RADIUS_M);
    let long_delta_top = rad_deg(width / EARTH_RADIUS_M / deg_rad(shape.lat + lat_delta).cos());
    let long_delta_bottom = rad_deg(width / EARTH_RADIUS_M / deg_rad(shape.lat - lat_delta).cos());
    let southern = shape.lat < 0.0;
    let long_delta = if southern { long_delta_bottom } else { long_delta_top };
    [shape.lon - long_delta, shape.lat - lat_delta, shape.lon + long_delta, shape.lat + lat_delta]
}

/// The cells covering `shape`, as Redis picks them: a step from the
/// search's extent, one step coarser if a neighbour would not reach the
/// bounding box, then neighbours entirely outside the box dropped.
pub fn cells_for(shape: &Shape) -> SearchCells {
    let [min_lon, min_lat, max_lon, max_lat] = bounding_box(shape);
    let radius_m = match shape.kind {
        ShapeKind::Radius(r) => r,
        ShapeKind::Box { width, height } => ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt(),
    } * shape.conversion;
    let mut steps = estimate_steps(radius_m, shape.lat);
    let cells_at = |steps: u8| {
        let hash =
            encode(LONG_RANGE, LAT_RANGE, shape.lon, shape.lat, steps).unwrap_or(HashBits { bits: 0, step: steps });
        let n = neighbors(hash);
        let area = decode(LONG_RANGE, LAT_RANGE, hash).unwrap_or_default();
        (hash, n, area)
    };
    let (mut hash, mut n, mut area) = cells_at(steps);

    let reaches = |h: HashBits| decode(LONG_RANGE, LAT_RANGE, h).unwrap_or_default();
    let decrease = reaches(n.north).latitude.max < max_lat
        || reaches(n.south).latitude.min > min_lat
        || reaches(n.east).longitude.max < max_lon
        || reaches(n.west).longitude.min > min_lon;
    if steps > 1 && decrease {
        steps -= 1;
        (hash, n, area) = cells_at(steps);
    }

    if steps >= 2 {
        if area.latitude.min < min_lat {
            n.south = HashBits::ZERO;
            n.south_west = HashBits::ZERO;
            n.south_east = HashBits::ZERO;
        }
        if area.latitude.max > max_lat {
            n.north = HashBits::ZERO;
            n.north_east = HashBits::ZERO;
            n.north_west = HashBits::ZERO;
        }
        if area.longitude.min < min_lon {
            n.west = HashBits::ZERO;
            n.south_west = HashBits::ZERO;
            n.north_west = HashBits::ZERO;
        }
        if area.longitude.max > max_lon {
            n.east = HashBits::ZERO;
            n.south_east = HashBits::ZERO;
            n.north_east = HashBits::ZERO;
        }
    }
    SearchCells { hash, neighbors: n, area }
}

/// The score interval `[min, max)` holding every position inside `hash`.
pub fn score_range(hash: HashBits) -> (u64, u64) {
    let min = align52(hash);
    let next = HashBits { bits: hash.bits.wrapping_add(1), step: hash.step };
    (min, align52(next))
}

/// Distance along a meridian between two latitudes (metres).
pub fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Great-circle distance (haversine) between two positions (metres).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// Whether the position `(lon, lat)` lies in `shape`, and its distance from
/// the centre (metres) when it does.
pub fn within(shape: &Shape, lon: f64, lat: f64) -> Option<f64> {
    match shape.kind {
        ShapeKind::Radius(r) => {
            let d = distance(shape.lon, shape.lat, lon, lat);
            if d > r * shape.conversion {
                None
            } else {
                Some(d)
            }
        }
        ShapeKind::Box { width, height } => {
            let (width_m, height_m) = (width * shape.conversion, height * shape.conversion);
            if lat_distance(lat, shape.lat) > height_m / 2.0 {
                return None;
            }
            if distance(lon, lat, shape.lon, lat) > width_m / 2.0 {
                return None;
            }
            Some(distance(shape.lon, shape.lat, lon, lat))
        }
    }
}

/// The standard 11-character base-32 geohash of a position (GEOHASH), over
/// ±90 degrees of latitude; the 11th character stands for bits Redis does
/// not have and is always `0`.
pub fn geohash_string(lon: f64, lat: f64) -> Option<[u8; 11]> {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let hash = encode(LONG_RANGE, Range { min: -90.0, max: 90.0 }, lon, lat, 26)?;
    let mut out = [b'0'; 11];
    for (i, o) in out.iter_mut().enumerate().take(10) {
        let idx = (hash.bits >> (52 - (i + 1) * 5)) & 0x1f;
        *o = ALPHABET[idx as usize];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (a, b) = (x as u32, (x >> 32) as u32);
            let i = interleave(a, b);
            assert_eq!(deinterleave(i), (a, b));
        }
        assert_eq!(interleave(1, 0), 1);
        assert_eq!(interleave(0, 1), 2);
        assert_eq!(interleave(0xffff_ffff, 0), 0x5555_5555_5555_5555);
    }

    /// Scores and positions from Redis 7.0.15 (GEOADD then ZSCORE / GEOPOS).
    #[test]
    fn encode_decode_vectors() {
        assert_eq!(score_of(13.361389, 38.115556), Some(3_479_099_956_230_698));
        assert_eq!(score_of(15.087269, 37.502669), Some(3_479_447_370_796_909));
        assert_eq!(score_of(-73.9454966, 40.747533), Some(1_791_875_804_419_201));
        assert_eq!(score_of(-74.0131604, 40.7126674), Some(1_791_873_972_053_020));
        let (lon, lat) = decode_score(3_479_099_956_230_698.0);
        assert_eq!(format!("{lon:.17} {lat:.17}"), "13.36138933897018433 38.11555639549629859");
        assert_eq!(score_of(180.1, 0.0), None);
        assert_eq!(score_of(0.0, 85.06), None);
        assert!(score_of(180.0, LAT_MAX).is_some());
        assert!(score_of(-180.0, LAT_MIN) == Some(0));
    }

    #[test]
    fn geohash_strings() {
        let (lon, lat) = decode_score(score_of(-5.6, 42.6).unwrap() as f64);
        assert_eq!(&geohash_string(lon, lat).unwrap(), b"ezs42e44yx0");
        let (lon, lat) = decode_score(score_of(13.361389, 38.115556).unwrap() as f64);
        assert_eq!(&geohash_string(lon, lat).unwrap(), b"sqc8b49rny0");
        // Scores that are no cell code, as Redis decodes them.
        let (lon, lat) = decode_score(-1.0);
        assert_eq!((lon, lat), (180.0, LAT_MAX));
        assert_eq!(&geohash_string(lon, lat).unwrap(), b"bp05b5048p0");
        assert_eq!(decode_score(1e300), decode_score(0.0));
        let (lon, lat) = decode_score(0.0);
        assert_eq!(format!("{lon:.17} {lat:.17}"), "-179.99999731779098511 -85.05112751263942528");
        assert_eq!(&geohash_string(lon, lat).unwrap(), b"00bh0hbj200");
    }

    #[test]
    fn distances() {
        let (lo1, la1) = decode_score(3_479_099_956_230_698.0);
        let (lo2, la2) = decode_score(3_479_447_370_796_909.0);
        let d = distance(lo1, la1, lo2, la2);
        // Redis: GEODIST Sicily Palermo Catania -> 166274.1516
        assert!((d - 166_274.1516).abs() < 0.00005, "{d}");
        assert_eq!(distance(lo1, la1, lo1, la1), 0.0);
        // Same meridian takes the cheap path and agrees with haversine.
        let m = distance(10.0, 10.0, 10.0, 11.0);
        assert!((m - lat_distance(10.0, 11.0)).abs() < 1e-6);
        assert!((m - 111_226.3).abs() < 0.001, "{m}");
    }

    #[test]
    fn neighbors_move_one_cell() {
        let h = encode_wgs84(10.0, 10.0, 10).unwrap();
        let n = neighbors(h);
        let a = decode(LONG_RANGE, LAT_RANGE, h).unwrap();
        let e = decode(LONG_RANGE, LAT_RANGE, n.east).unwrap();
        let s = decode(LONG_RANGE, LAT_RANGE, n.south).unwrap();
        assert_eq!(e.longitude.min, a.longitude.max);
        assert_eq!(e.latitude, a.latitude);
        assert_eq!(s.latitude.max, a.latitude.min);
        assert_eq!(s.longitude, a.longitude);
        let w = decode(LONG_RANGE, LAT_RANGE, n.west).unwrap();
        assert_eq!(w.longitude.max, a.longitude.min);
    }

    #[test]
    fn steps_follow_the_radius() {
        assert_eq!(estimate_steps(0.0, 0.0), 26);
        assert_eq!(estimate_steps(1000.0, 0.0), 14);
        assert_eq!(estimate_steps(1000.0, 70.0), 13);
        assert_eq!(estimate_steps(1000.0, -85.0), 12);
        assert_eq!(estimate_steps(5.0e7, 0.0), 1);
        assert_eq!(estimate_steps(f64::INFINITY, 0.0), 1);
        assert_eq!(estimate_steps(1e-300, 0.0), 26);
    }

    #[test]
    fn shapes() {
        let circle = Shape { lon: 15.0, lat: 37.0, conversion: 1000.0, kind: ShapeKind::Radius(200.0) };
        let (lo, la) = decode_score(3_479_447_370_796_909.0);
        assert!(within(&circle, lo, la).is_some());
        let far = Shape { kind: ShapeKind::Radius(10.0), ..circle };
        assert!(within(&far, lo, la).is_none());
        let bx = Shape { kind: ShapeKind::Box { width: 400.0, height: 2.0 }, ..circle };
        assert!(within(&bx, 12.75, 36.995).is_some());
        assert!(within(&bx, 12.75, 36.5).is_none());
        let cells = cells_for(&circle);
        assert!(!cells.hash.is_zero());
        let b = bounding_box(&circle);
        assert!(b[0] < 15.0 && b[2] > 15.0 && b[1] < 37.0 && b[3] > 37.0);
    }

    /// Any score (user ZADDs can store anything) and any search extent
    /// decode and search without panicking.
    #[test]
    fn fuzz_scores_and_shapes_never_panic() {
        let mut x = 0xdead_beef_cafe_f00du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let score = f64::from_bits(next());
            let (lon, lat) = decode_score(score);
            assert!((LONG_MIN..=LONG_MAX).contains(&lon) || lon.is_nan());
            let _ = geohash_string(lon, lat);
            let r = f64::from_bits(next()).abs();
            let shape = Shape {
                lon: (next() % 361) as f64 - 180.0,
                lat: (next() % 171) as f64 - 85.0,
                conversion: 1.0,
                kind: if next() % 2 == 0 { ShapeKind::Radius(r) } else { ShapeKind::Box { width: r, height: r / 3.0 } },
            };
            let cells = cells_for(&shape);
            let _ = score_range(cells.hash);
            let _ = within(&shape, lon, lat);
        }
    }
}
