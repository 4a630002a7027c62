import Domain
import Foundation
import Simulation
import Testing

@Suite("PhysicsCell transients, conventions, noise and environment")
struct PhysicsCellBehaviourTests {
    @Test("a plating start overshoots (nucleation) and relaxes; without nucleation it does not")
    func platingStartShowsNucleationOvershoot() throws {
        var parameters = kPreset().withoutNoise
        parameters.pressurePerMetalThickness_MPa_um = 0
        var runner = HalfCycleRunner(parameters)
        runner.hold(density_mA_cm2: 0, duration_s: 10)
        let plating = runner.hold(density_mA_cm2: -0.5, duration_s: 60, recording: true).readings
        let first = abs(plating[0].voltage_V)
        let settled = abs(plating[59].voltage_V)
        #expect(plating.allSatisfy { $0.voltage_V < 0 })
        #expect(first > settled + 0.005)
        #expect(abs(plating[1].voltage_V) < first)

        parameters.nucleationOverpotential_V = 0
        var plain = HalfCycleRunner(parameters)
        plain.hold(density_mA_cm2: 0, duration_s: 10)
        let noSpike = plain.hold(density_mA_cm2: -0.5, duration_s: 60, recording: true).readings
        #expect(abs(noSpike[0].voltage_V) < abs(noSpike[59].voltage_V))
    }

    @Test("after a current step the voltage approaches its new value exponentially")
    func currentStepRelaxesExponentially() throws {
        var parameters = kPreset().withoutNoise
        parameters.pressurePerMetalThickness_MPa_um = 0
        var runner = HalfCycleRunner(parameters)
        runner.hold(density_mA_cm2: 0.5, duration_s: 100)
        let step = runner.hold(density_mA_cm2: 1.0, duration_s: 120, recording: true).readings
        let final = step[119].voltage_V
        let gaps = step[0..<12].map { final - $0.voltage_V }
        #expect(gaps[0] > 0.0005)
        let ratios = (1..<gaps.count).map { gaps[$0] / gaps[$0 - 1] }
        for ratio in ratios {
            #expect(abs(ratio - ratios[0]) < 0.01 * ratios[0])
        }
        let timeConstant_s = -1 / log(ratios[0])
        #expect(abs(timeConstant_s - parameters.relaxationTime_s) < 0.05 * parameters.relaxationTime_s)
    }

    @Test("IUPAC signs: stripping the WE is positive, plating negative; WE-RE only in three-electrode cells")
    func signConventionsAndReferenceElectrode() {
        var symmetric = HalfCycleRunner(kPreset().withoutNoise)
        let stripping = symmetric.hold(density_mA_cm2: 1, duration_s: 5).completed
        #expect(stripping)
        #expect((symmetric.lastReading?.voltage_V ?? 0) > 0)
        #expect(symmetric.lastReading?.voltageWERE_V == nil)

        var parameters = kPreset().withoutNoise
        parameters.isThreeElectrode = true
        var threeElectrode = HalfCycleRunner(parameters)
        threeElectrode.hold(density_mA_cm2: -1, duration_s: 30)
        let plated = threeElectrode.lastReading
        let cell = plated?.voltage_V ?? 0
        let workingToReference = plated?.voltageWERE_V ?? 0
        #expect(cell < 0 && workingToReference < 0)
        // WE-RE sees one interface and a small share of the bulk: well under half of the cell voltage.
        #expect(abs(workingToReference) < 0.5 * abs(cell))
    }

    @Test("the same seed gives identical readings; different seeds differ")
    func seedsAreReproducible() {
        func readings(seed: UInt64) -> [CellReading] {
            var parameters = kPreset()
            parameters.seed = seed
            parameters.isThreeElectrode = true
            var runner = HalfCycleRunner(parameters)
            var all = runner.halfCycle(density_mA_cm2: -2, capacity_mAh_cm2: 0.2, recording: true).readings
            all += runner.halfCycle(density_mA_cm2: 3, capacity_mAh_cm2: 0.2, recording: true).readings
            return all
        }
        let first = readings(seed: 42)
        let again = readings(seed: 42)
        let other = readings(seed: 43)
        #expect(first.count > 400)
        #expect(first == again)
        #expect(first != other)
        let differing = zip(first, other).filter { $0.voltage_V != $1.voltage_V }.count
        #expect(differing > first.count / 2)
    }

    @Test("noise is white around the noise-free signal, quantised, with rare spikes")
    func noiseHasConfiguredSizeAndResolution() throws {
        var noisy = kPreset()
        noisy.voltageDrift_V = 0
        noisy.voltageSpikeProbability = 0.01
        noisy.voltageSpikeAmplitude_V = 0.01
        var quiet = noisy.withoutNoise
        quiet.pressurePerMetalThickness_MPa_um = 0
        noisy.pressurePerMetalThickness_MPa_um = 0
        var noisyRunner = HalfCycleRunner(noisy)
        var quietRunner = HalfCycleRunner(quiet)
        let measured = noisyRunner.hold(density_mA_cm2: 0.2, duration_s: 4000, recording: true).readings
        let exact = quietRunner.hold(density_mA_cm2: 0.2, duration_s: 4000, recording: true).readings
        let errors = zip(measured, exact).map { $0.voltage_V - $1.voltage_V }
        let spikes = errors.filter { abs($0) > 0.004 }.count
        let ordinary = errors.filter { abs($0) <= 0.004 }
        let rms = (ordinary.map { $0 * $0 }.reduce(0, +) / Double(ordinary.count)).squareRoot()
        #expect(abs(rms - noisy.voltageNoise_V) < 0.2 * noisy.voltageNoise_V)
        #expect(spikes > 10 && spikes < 80)
        let resolution = noisy.voltageResolution_V
        for reading in measured.prefix(200) {
            let steps = reading.voltage_V / resolution
            #expect(abs(steps - steps.rounded()) < 1e-6)
        }
    }

    @Test("pressure and temperature readings follow their setpoints; plating the WE raises the stack pressure")
    func environmentFollowsSetpointsAndPlating() throws {
        var parameters = kPreset()
        parameters.isThreeElectrode = true
        var runner = HalfCycleRunner(parameters)
        let rest = runner.hold(density_mA_cm2: 0, duration_s: 600, recording: true).readings
        for reading in rest {
            let pressure = try #require(reading.pressure_MPa)
            let temperature = try #require(reading.temperature_C)
            #expect(abs(pressure - parameters.stackPressure_MPa) < 0.15)
            #expect(abs(temperature - parameters.temperature_C) < 0.3)
        }
        let before = runner.cell.state.stackPressure_MPa
        runner.halfCycle(density_mA_cm2: -2, capacity_mAh_cm2: 0.5)
        #expect(runner.cell.state.stackPressure_MPa > before + 0.01)

        runner.cell.setStackPressureSetpoint(5)
        runner.hold(density_mA_cm2: 0, duration_s: 10 * parameters.pressureRelaxationTime_s)
        #expect(abs(runner.cell.state.stackPressure_MPa - 5) < 0.01)
    }
}
