import Domain
import Engine
import Foundation
import Testing

/// Feeds a hard-short criterion one plating step of |V| values at a fixed interval; returns its first verdict.
private func firstVerdict(
    interval_s: Double, steps: Int, current_A: Double = -1e-4, area_cm2: Double = 0.2,
    voltage: (Double) -> Double
) -> Verdict? {
    var criterion = HardShortCriterion(during: .plate, electrolyteResistance_Ohm_cm2: nil, threshold_Ohm_cm2: nil)
    let step = PlannedStep(
        index: 0, cycle: 1, stepInCycle: 1, kind: .plate, current_A: current_A, currentDensity_mA_cm2: 0.5)
    criterion.stepStarted(StepContext(step: step, startTime_s: 0, area_cm2: area_cm2, threeElectrode: false))
    for index in 1...steps {
        let time_s = Double(index) * interval_s
        let context = StepContext(
            step: step, startTime_s: 0, elapsed_s: time_s, sampleCount: index, area_cm2: area_cm2,
            threeElectrode: false)
        let sample = InstrumentSample(time_s: time_s, current_A: current_A, voltage_V: -voltage(time_s))
        if let verdict = criterion.evaluate(sample, context: context) { return verdict }
    }
    return nil
}

@Suite("hard-short")
struct HardShortTests {
    @Test("a nucleation overpotential nine times the settled polarisation, sampled at 0.1 s, is no short")
    func nucleationAtFineSampling() {
        // 10 mV settled (20 Ohm cm2 apparent on 0.2 cm2 at 0.1 mA) after a 90 mV nucleation peak relaxing in 1 s.
        let verdict = firstVerdict(interval_s: 0.1, steps: 3000) { time_s in
            0.010 + 0.080 * exp(-time_s / 1.0)
        }
        #expect(verdict == nil, "\(verdict?.reason ?? "")")
    }

    @Test("a short that collapses the voltage to a twentieth is stopped within two samples")
    func collapse() throws {
        let verdict = try #require(
            firstVerdict(interval_s: 1, steps: 200) { time_s in time_s < 100 ? 0.010 : 0.0005 })
        #expect(verdict.action == .stop)
        #expect(verdict.time_s == 101, "the second sample below the threshold")
        #expect(verdict.onsetTime_s == 99)
        #expect(abs(verdict.evidence["reference_resistance_Ohm_cm2"]! - 20) < 1e-9, "10 mV / 0.1 mA x 0.2 cm2")
    }
}
