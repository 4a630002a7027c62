import Foundation

/// A complex number, used for the impedance of the simulated cell (real part resistance, imaginary part reactance).
public struct Complex: Sendable, Hashable, CustomStringConvertible {
    public var real: Double
    public var imaginary: Double

    public init(real: Double, imaginary: Double = 0) {
        self.real = real
        self.imaginary = imaginary
    }

    public static let zero = Complex(real: 0)
    public static let one = Complex(real: 1)

    /// The modulus |z|.
    public var magnitude: Double { hypot(real, imaginary) }

    /// The argument of z in radians, in (-pi, pi].
    public var phase: Double { atan2(imaginary, real) }

    /// 1 / z; infinite parts for z = 0.
    public var reciprocal: Complex {
        let denominator = real * real + imaginary * imaginary
        return Complex(real: real / denominator, imaginary: -imaginary / denominator)
    }

    /// The principal value of (i * omega)^exponent for a positive angular frequency omega, as used by a
    /// constant-phase element.
    public static func imaginaryPower(angularFrequency omega: Double, exponent: Double) -> Complex {
        let modulus = pow(omega, exponent)
        let angle = exponent * Double.pi / 2
        return Complex(real: modulus * cos(angle), imaginary: modulus * sin(angle))
    }

    public static func + (lhs: Complex, rhs: Complex) -> Complex {
        Complex(real: lhs.real + rhs.real, imaginary: lhs.imaginary + rhs.imaginary)
    }

    public static func - (lhs: Complex, rhs: Complex) -> Complex {
        Complex(real: lhs.real - rhs.real, imaginary: lhs.imaginary - rhs.imaginary)
    }

    public static func * (lhs: Complex, rhs: Complex) -> Complex {
        Complex(
            real: lhs.real * rhs.real - lhs.imaginary * rhs.imaginary,
            imaginary: lhs.real * rhs.imaginary + lhs.imaginary * rhs.real
        )
    }

    public static func * (lhs: Double, rhs: Complex) -> Complex {
        Complex(real: lhs * rhs.real, imaginary: lhs * rhs.imaginary)
    }

    public static func / (lhs: Complex, rhs: Complex) -> Complex {
        lhs * rhs.reciprocal
    }

    public var description: String {
        imaginary < 0 ? "\(real) - \(-imaginary)i" : "\(real) + \(imaginary)i"
    }
}
