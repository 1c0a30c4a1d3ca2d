//! `a * b / d` with a 256-bit intermediate, rounded in a stated direction: for every share,
//! deposit, fee and interest whose product may not fit in 128 bits although the result does.

/// `a * b` as a 256-bit number (high, low).
fn widening_mul(a: u128, b: u128) -> (u128, u128) {
    let mask = u128::from(u64::MAX);
    let (a_hi, a_lo) = (a >> 64, a & mask);
    let (b_hi, b_lo) = (b >> 64, b & mask);
    // Each partial product of two 64-bit halves fits in 128 bits, and the sums below are the
    // exact words of a product that fits in 256 bits, so none of them can overflow.
    let lo_lo = a_lo.wrapping_mul(b_lo);
    let hi_lo = a_hi.wrapping_mul(b_lo);
    let lo_hi = a_lo.wrapping_mul(b_hi);
    let hi_hi = a_hi.wrapping_mul(b_hi);
    let middle = (lo_lo >> 64)
        .wrapping_add(hi_lo & mask)
        .wrapping_add(lo_hi & mask);
    let low = (lo_lo & mask) | (middle << 64);
    let high = hi_hi
        .wrapping_add(hi_lo >> 64)
        .wrapping_add(lo_hi >> 64)
        .wrapping_add(middle >> 64);
    (high, low)
}

/// `(a * b) / d` and whether it had a remainder, or `None` if `d` is zero or the quotient does
/// not fit in a `u128`.
fn mul_div(a: u128, b: u128, d: u128) -> Option<(u128, bool)> {
    if d == 0 {
        return None;
    }
    let (high, low) = widening_mul(a, b);
    if high >= d {
        return None;
    }
    // Long division of the 256-bit product by `d`, one bit at a time.
    let mut remainder = high;
    let mut quotient: u128 = 0;
    for bit in (0..128).rev() {
        let carry = remainder >> 127;
        remainder = (remainder << 1) | ((low >> bit) & 1);
        quotient <<= 1;
        if carry == 1 || remainder >= d {
            remainder = remainder.wrapping_sub(d);
            quotient |= 1;
        }
    }
    Some((quotient, remainder != 0))
}

/// `a * b / d`, rounded down.
pub fn mul_div_floor(a: u128, b: u128, d: u128) -> Option<u128> {
    mul_div(a, b, d).map(|(q, _)| q)
}

/// `a * b / d`, rounded up.
pub fn mul_div_ceil(a: u128, b: u128, d: u128) -> Option<u128> {
    let (q, inexact) = mul_div(a, b, d)?;
    if inexact { q.checked_add(1) } else { Some(q) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul_div_matches_exact_arithmetic() {
        assert_eq!(mul_div_floor(7, 3, 2), Some(10));
        assert_eq!(mul_div_ceil(7, 3, 2), Some(11));
        assert_eq!(mul_div_ceil(6, 3, 2), Some(9));
        // A product far past u128 with a quotient that fits.
        assert_eq!(
            mul_div_floor(u128::MAX, u128::MAX, u128::MAX),
            Some(u128::MAX)
        );
        assert_eq!(mul_div_floor(1 << 100, 1 << 100, 1 << 90), Some(1 << 110));
        assert_eq!(mul_div_floor(u128::MAX, 2, 1), None);
        assert_eq!(mul_div_floor(1, 1, 0), None);
    }
}
