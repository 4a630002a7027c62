import Domain
import Foundation
import Testing

@testable import TraceFamilies

/// Drives a trace cell through plating steps at `density` (mA/cm2), each `duration_s` long, alternating direction.
private func readings(
    _ family: TraceFamily, options: TraceCellOptions, density: Double, steps: Int, duration_s: Double,
    interval_s: Double
) -> (samples: [InstrumentSample], onset: Double?) {
    var cell = family.makeCell(options)
    var samples: [InstrumentSample] = []
    let current = density * options.area_cm2 / 1000
    for step in 0..<steps {
        let applied = step % 2 == 0 ? -current : current
        for _ in 0..<Int(duration_s / interval_s) {
            samples.append(cell.advance(by: interval_s, current_A: applied))
        }
    }
    return (samples, cell.shortOnset_s)
}

private func options(seed: UInt64, resolution: Double = 0, critical: Double? = nil, shape: ShortShape = .abrupt)
    -> TraceCellOptions
{
    TraceCellOptions(
        seed: seed, area_cm2: 0.196, voltageResolution_V: resolution, criticalCurrentDensity_mA_cm2: critical,
        onsetCharge_mAh_cm2: 0.05, shortShape: shape)
}

@Suite("trace families: independent synthetic cells for scoring stop criteria")
struct TraceFamiliesTests {
    @Test("the same seed gives the same readings, another seed others", arguments: TraceFamily.allCases)
    func reproducible(family: TraceFamily) {
        let first = readings(family, options: options(seed: 3), density: 1, steps: 2, duration_s: 60, interval_s: 1)
        let again = readings(family, options: options(seed: 3), density: 1, steps: 2, duration_s: 60, interval_s: 1)
        let other = readings(family, options: options(seed: 4), density: 1, steps: 2, duration_s: 60, interval_s: 1)
        #expect(first.samples == again.samples)
        #expect(first.samples != other.samples)
    }

    @Test("readings are whole multiples of the resolution", arguments: TraceFamily.allCases)
    func quantised(family: TraceFamily) {
        let result = readings(
            family, options: options(seed: 5, resolution: 1e-4), density: 0.5, steps: 2, duration_s: 120,
            interval_s: 1)
        for sample in result.samples {
            let steps = sample.voltage_V / 1e-4
            #expect(abs(steps - steps.rounded()) < 1e-6, "\(sample.voltage_V)")
        }
    }

    @Test("a first plating at low current starts far above its settled level", arguments: TraceFamily.allCases)
    func nucleationAtLowCurrent(family: TraceFamily) {
        var largest = 0.0
        for seed in 1...10 as ClosedRange<UInt64> {
            let result = readings(
                family, options: options(seed: seed), density: 0.05, steps: 1, duration_s: 3600, interval_s: 1)
            let early = abs(result.samples[9].voltage_V)
            let settled = abs(result.samples.last!.voltage_V)
            largest = max(largest, early / settled)
        }
        #expect(largest > 4, "a nucleation spike several times the settled value in at least one of ten cells")
    }

    @Test(
        "a cell without a critical current never shorts; one with it shorts once past it, and |V| falls",
        arguments: TraceFamily.allCases)
    func shortsAtTheCriticalCurrent(family: TraceFamily) throws {
        let healthy = readings(family, options: options(seed: 9), density: 2, steps: 2, duration_s: 600, interval_s: 1)
        #expect(healthy.onset == nil)
        for shape in ShortShape.allCases {
            let shorted = readings(
                family, options: options(seed: 9, critical: 2, shape: shape), density: 2, steps: 1, duration_s: 900,
                interval_s: 1)
            let onset = try #require(shorted.onset, "\(shape)")
            // 0.05 mAh/cm2 at 2 mA/cm2 takes 90 s.
            #expect(abs(onset - 90) < 1, "\(shape): \(onset)")
            let before = shorted.samples.filter { $0.time_s > onset - 40 && $0.time_s < onset }.map {
                abs($0.voltage_V)
            }
            let after = shorted.samples.filter { $0.time_s > onset + 300 }.map { abs($0.voltage_V) }
            let lowestAfter = try #require(after.min())
            #expect(lowestAfter < 0.97 * before.reduce(0, +) / Double(before.count), "\(shape)")
        }
    }

    @Test("the random source is uniform and its normal deviates have unit spread")
    func randomSource() {
        var random = TraceRandom(seed: 11)
        var sum = 0.0
        var squares = 0.0
        for _ in 0..<20000 {
            let value = random.normal()
            sum += value
            squares += value * value
        }
        #expect(abs(sum / 20000) < 0.03)
        #expect(abs(squares / 20000 - 1) < 0.05)
        let uniforms = (0..<10000).map { _ in random.uniform() }
        #expect(uniforms.allSatisfy { $0 >= 0 && $0 < 1 })
        #expect(abs(uniforms.reduce(0, +) / 10000 - 0.5) < 0.02)
    }
}
