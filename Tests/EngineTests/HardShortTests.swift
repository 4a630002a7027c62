import Domain
import Engine
import Foundation
import Simulation
import Testing

/// Feeds a hard-short criterion one plating step of |V| values at a fixed interval; returns its first verdict.
private func firstVerdict(
    interval_s: Double, steps: Int, current_A: Double = -1e-4, area_cm2: Double = 0.2,
    electrolyteResistance_Ohm_cm2: Double? = nil, voltage: (Double) -> Double
) -> Verdict? {
    var criterion = HardShortCriterion(
        during: .plate, electrolyteResistance_Ohm_cm2: electrolyteResistance_Ohm_cm2, threshold_Ohm_cm2: nil)
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

    @Test(
        "a nucleation overpotential of 800 mV relaxing to 4 mV over half an hour is no short",
        arguments: [0.1, 1.0, 10.0])
    func slowNucleation(interval_s: Double) {
        let verdict = firstVerdict(interval_s: interval_s, steps: Int(3600 / interval_s)) { time_s in
            0.004 + 0.796 * exp(-pow(time_s / 240, 0.5))
        }
        #expect(verdict == nil, "\(verdict?.reason ?? "")")
    }

    @Test("a short that collapses a settled voltage to a twentieth is stopped within four samples")
    func collapse() throws {
        let verdict = try #require(
            firstVerdict(interval_s: 1, steps: 200) { time_s in time_s < 100 ? 0.010 : 0.0005 })
        #expect(verdict.action == .stop)
        #expect(verdict.time_s > 100 && verdict.time_s <= 104, "smoothed over five samples, two in a row")
        let onset = try #require(verdict.onsetTime_s)
        #expect(onset >= 99 && onset < verdict.time_s)
        // 10 mV / 0.1 mA x 0.2 cm2, less what the settled level may follow down in the few samples of the collapse.
        #expect(abs(verdict.evidence["reference_resistance_Ohm_cm2"]! - 20) < 0.05)
    }

    @Test("it never fires on a step that has not settled, even when the electrolyte resistance is known")
    func notBeforeSettling() {
        // 50 Ohm cm2 known: a fifth is 10 Ohm cm2, 5 mV at 0.1 mA on 0.2 cm2. |V| climbs from 0 V after a reversal
        // and is below that for its first two minutes, then settles at 20 mV.
        let climbing = firstVerdict(interval_s: 1, steps: 1200, electrolyteResistance_Ohm_cm2: 50) { time_s in
            0.020 * (1 - exp(-time_s / 400))
        }
        #expect(climbing == nil, "\(climbing?.reason ?? "")")
        // Once settled, a collapse below the known electrolyte's fifth is a short.
        let collapse = firstVerdict(interval_s: 1, steps: 1200, electrolyteResistance_Ohm_cm2: 50) { time_s in
            time_s < 600 ? 0.020 : 0.002
        }
        #expect(collapse?.evidence["electrolyte_resistance_Ohm_cm2"] == 50)
        #expect((collapse?.time_s ?? 0) > 600)
    }

    @Test("the electrolyte resistance of a physics cell's spectrum is its bulk resistance", arguments: [1e6, 2e5])
    func electrolyteFromSpectrum(highest_Hz: Double) throws {
        let cell = try PhysicsCell(preset: "k-beta-alumina")
        let settings = ImpedanceSettings(
            control: .potentiostatic, startFrequency_Hz: highest_Hz, endFrequency_Hz: 1, pointsPerDecade: 10,
            amplitude: 0.01)
        let points = zip(settings.frequencies_Hz, cell.impedance(atFrequencies: settings.frequencies_Hz)).map {
            ImpedancePoint(time_s: 0, frequency_Hz: $0, real_Ohm: $1.real, imaginary_Ohm: $1.imaginary)
        }
        let estimate = try #require(HardShortCriterion.electrolyteResistance_Ohm(points))
        let bulk = cell.state.bulkResistance_Ohm
        #expect(estimate > 0.8 * bulk && estimate < 1.5 * bulk, "estimate \(estimate) Ohm, bulk \(bulk) Ohm")

        var criterion = HardShortCriterion(during: .plate, electrolyteResistance_Ohm_cm2: nil, threshold_Ohm_cm2: nil)
        let step = PlannedStep(
            index: 0, cycle: 0, stepInCycle: 1, kind: .impedance, current_A: 0, currentDensity_mA_cm2: 0)
        criterion.stepStarted(StepContext(step: step, startTime_s: 0, area_cm2: 0.196, threeElectrode: false))
        criterion.impedanceMeasured(points)
        let known = try #require(criterion.knownElectrolyteResistance_Ohm_cm2)
        #expect(abs(known - estimate * 0.196) < 1e-9)
    }

    @Test("the rig file's conductivity and thickness give the reference through the run context")
    func electrolyteFromTheRigFile() throws {
        let cell = CellDescription(
            metal: .k, electrolyte: "K-beta''-alumina", electrolyteThickness_um: 500,
            electrolyteConductivity_S_cm: 1e-3,
            electrodeArea_cm2: 0.196)
        let resistance = try #require(cell.electrolyteResistance_Ohm_cm2)
        #expect(abs(resistance - 50) < 1e-9, "0.05 cm / 1 mS/cm")
        let context = RunContext(cell: cell, conditions: TestConditions())
        #expect(context.electrolyteResistance_Ohm_cm2 == resistance)
        let made = try CriterionFactory.make(CriterionDeclaration(name: "hard-short"), context: context)
        let criterion = try #require(made as? HardShortCriterion)
        #expect(criterion.knownElectrolyteResistance_Ohm_cm2 == 50)
    }
}
