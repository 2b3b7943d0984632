/**
 * Bessel functions of the first kind J0 and J1 for the Airy pattern, by the polynomial approximations of
 * Abramowitz & Stegun 9.4.1-9.4.6 (|error| < 5e-8 up to x = 3, < 1.6e-8 relative beyond). J0 is needed for the
 * Airy pattern's encircled energy 1 - J0(v)^2 - J1(v)^2.
 */

/** J1(x) for any real x (odd function). */
export function besselJ1(x: number): number {
  const ax = Math.abs(x);
  if (ax <= 3) {
    const t = (x / 3) * (x / 3);
    // A&S 9.4.4: J1(x)/x as a polynomial in (x/3)^2.
    return x * (0.5 + t * (-0.56249985 + t * (0.21093573 + t * (-0.03954289 + t * (0.00443319 + t * (-0.00031761 + t * 0.00001109))))));
  }
  const t = 3 / ax;
  // A&S 9.4.6: J1(x) = f1 cos(theta1) / sqrt(x).
  const f1 = 0.79788456 + t * (0.00000156 + t * (0.01659667 + t * (0.00017105 + t * (-0.00249511 + t * (0.00113653 - t * 0.00020033)))));
  const theta1 = ax - 2.35619449 + t * (0.12499612 + t * (0.0000565 + t * (-0.00637879 + t * (0.00074348 + t * (0.00079824 - t * 0.00029166)))));
  const value = (f1 * Math.cos(theta1)) / Math.sqrt(ax);
  return x < 0 ? -value : value;
}

/** J0(x) for any real x (even function). */
export function besselJ0(x: number): number {
  const ax = Math.abs(x);
  if (ax <= 3) {
    const t = (ax / 3) * (ax / 3);
    // A&S 9.4.1.
    return 1 + t * (-2.2499997 + t * (1.2656208 + t * (-0.3163866 + t * (0.0444479 + t * (-0.0039444 + t * 0.00021)))));
  }
  const t = 3 / ax;
  // A&S 9.4.3.
  const f0 = 0.79788456 + t * (-0.00000077 + t * (-0.0055274 + t * (-0.00009512 + t * (0.00137237 + t * (-0.00072805 + t * 0.00014476)))));
  const theta0 = ax - 0.78539816 + t * (-0.04166397 + t * (-0.00003954 + t * (0.00262573 + t * (-0.00054125 + t * (-0.00029333 + t * 0.00013558)))));
  return (f0 * Math.cos(theta0)) / Math.sqrt(ax);
}
