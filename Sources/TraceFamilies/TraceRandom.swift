import Foundation

/// The random source of the trace families: a permuted congruential generator (64-bit state, 32-bit outputs with
/// a random rotation), two outputs per uniform deviate, normal deviates by Marsaglia's polar method.
///
/// Deliberately not the simulator's generator: a trace family shares no code with `PhysicsCell`.
public struct TraceRandom: Sendable, Hashable {
    private var state: UInt64
    private let stream: UInt64
    private var spare: Double?

    public init(seed: UInt64, stream: UInt64 = 0x5851_F42D_4C95_7F2D) {
        self.stream = (stream << 1) | 1
        state = 0
        _ = next32()
        state &+= seed
        _ = next32()
    }

    /// The next 32 random bits.
    public mutating func next32() -> UInt32 {
        let old = state
        state = old &* 6_364_136_223_846_793_005 &+ stream
        let shifted = UInt32(truncatingIfNeeded: ((old >> 18) ^ old) >> 27)
        let rotation = UInt32(truncatingIfNeeded: old >> 59)
        return (shifted >> rotation) | (shifted << ((~rotation &+ 1) & 31))
    }

    /// A uniform deviate in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double {
        let high = UInt64(next32()) << 21
        let low = UInt64(next32()) >> 11
        return Double(high | low) * 0x1.0p-53
    }

    /// A uniform deviate in `range`.
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * uniform()
    }

    /// A deviate whose logarithm is uniform over the logarithms of `range` (both bounds positive).
    public mutating func logUniform(_ range: ClosedRange<Double>) -> Double {
        exp(uniform(log(range.lowerBound)...log(range.upperBound)))
    }

    /// True with probability `probability`.
    public mutating func chance(_ probability: Double) -> Bool { uniform() < probability }

    /// -1 or +1 with equal probability.
    public mutating func sign() -> Double { next32() & 1 == 0 ? -1 : 1 }

    /// One of `count` indices with equal probability.
    public mutating func index(_ count: Int) -> Int { min(count - 1, Int(uniform() * Double(count))) }

    /// A standard normal deviate (polar method: a point drawn in the unit disc gives two deviates).
    public mutating func normal() -> Double {
        if let spare {
            self.spare = nil
            return spare
        }
        while true {
            let x = 2 * uniform() - 1
            let y = 2 * uniform() - 1
            let radius = x * x + y * y
            guard radius > 0, radius < 1 else { continue }
            let factor = (-2 * log(radius) / radius).squareRoot()
            spare = y * factor
            return x * factor
        }
    }

    /// An exponential deviate with mean `mean`.
    public mutating func exponential(mean: Double) -> Double { -mean * log(1 - uniform()) }

    /// A Student-t deviate with three degrees of freedom (heavy tails), scaled to unit median absolute value.
    public mutating func heavyTailed() -> Double {
        var chiSquare = 0.0
        for _ in 0..<3 {
            let deviate = normal()
            chiSquare += deviate * deviate
        }
        return normal() / (chiSquare / 3).squareRoot() / 0.765
    }
}
