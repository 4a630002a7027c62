import Foundation

/// A small, fast, reproducible pseudo-random source for simulated measurement noise and failure timing.
///
/// The generator is xoshiro256** seeded through SplitMix64, so any 64-bit seed (including 0) gives a well-mixed
/// state. Normal deviates come from the Box-Muller transform; the second deviate of each pair is kept for the
/// next call. The same seed always yields the same sequence on every platform.
public struct SeededRandomSource: Sendable, Hashable {
    private var state0: UInt64
    private var state1: UInt64
    private var state2: UInt64
    private var state3: UInt64
    private var spareNormal: Double?

    public init(seed: UInt64) {
        var splitMixState = seed
        state0 = Self.splitMix64(&splitMixState)
        state1 = Self.splitMix64(&splitMixState)
        state2 = Self.splitMix64(&splitMixState)
        state3 = Self.splitMix64(&splitMixState)
        spareNormal = nil
    }

    /// The next raw 64-bit output (xoshiro256**).
    public mutating func nextBits() -> UInt64 {
        let result = rotateLeft(state1 &* 5, by: 7) &* 9
        let shifted = state1 << 17
        state2 ^= state0
        state3 ^= state1
        state1 ^= state2
        state0 ^= state3
        state2 ^= shifted
        state3 = rotateLeft(state3, by: 45)
        return result
    }

    /// A uniform deviate in [0, 1) with 53 random bits.
    public mutating func nextUniform() -> Double {
        Double(nextBits() >> 11) * 0x1.0p-53
    }

    /// A standard normal deviate (mean 0, standard deviation 1).
    public mutating func nextNormal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        // 1 - uniform lies in (0, 1], so the logarithm is finite.
        let radius = (-2 * log(1 - nextUniform())).squareRoot()
        let angle = 2 * Double.pi * nextUniform()
        spareNormal = radius * sin(angle)
        return radius * cos(angle)
    }

    private static func splitMix64(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    private func rotateLeft(_ value: UInt64, by bits: UInt64) -> UInt64 {
        (value << bits) | (value >> (64 - bits))
    }
}
