import Domain
import Foundation
import ImpedanceAnalysis
import Simulation
import Testing

/// Spectra generated from known parameters, with seeded Gaussian noise proportional to |Z|.
enum SyntheticSpectrum {
    static func frequencies(from highest: Double, to lowest: Double, perDecade: Int) -> [Double] {
        ImpedanceSettings(
            control: .potentiostatic, startFrequency_Hz: highest, endFrequency_Hz: lowest,
            pointsPerDecade: perDecade, amplitude: 0.01
        ).frequencies_Hz
    }

    /// Noise proportional to |Z| in both parts (`.modulus`), or to |Z'| and |Z''| separately (`.proportional`).
    static func points(
        _ circuit: String, parameters: [Double], frequencies: [Double], relativeNoise: Double, seed: UInt64,
        noise: FitWeighting = .modulus
    ) throws -> [ImpedancePoint] {
        let model = CircuitModel(try EquivalentCircuit(parsing: circuit))
        var random = SeededGenerator(seed: seed)
        return frequencies.enumerated().map { index, frequency in
            let value = model.impedance(atFrequency: frequency, parameters: parameters)
            let realScale = relativeNoise * (noise == .modulus ? value.magnitude : abs(value.real))
            let imaginaryScale = relativeNoise * (noise == .modulus ? value.magnitude : abs(value.imaginary))
            return ImpedancePoint(
                time_s: Double(index), frequency_Hz: frequency,
                real_Ohm: value.real + realScale * random.nextGaussian(),
                imaginary_Ohm: value.imaginary + imaginaryScale * random.nextGaussian())
        }
    }
}

@Suite("Equivalent-circuit fits")
struct ImpedanceFitterTests {
    /// Electrolyte arc with its apex near 10 kHz, interface arc near 10 Hz, swept from 1 MHz to 10 mHz.
    static let circuit = "p(R1,CPE1)-p(R2,CPE2)"
    static let truth: [Double] = [100, 4.8e-7, 0.9, 300, 1.2e-4, 0.8]
    static let frequencies = SyntheticSpectrum.frequencies(from: 1e6, to: 0.01, perDecade: 10)

    func fit(noise: Double, seed: UInt64, weighting: FitWeighting = .modulus) throws -> ImpedanceFitResult {
        let points = try SyntheticSpectrum.points(
            Self.circuit, parameters: Self.truth, frequencies: Self.frequencies, relativeNoise: noise, seed: seed,
            noise: weighting)
        return try ImpedanceFitter.fit(
            points, circuit: try EquivalentCircuit(parsing: Self.circuit),
            options: ImpedanceFitOptions(weighting: weighting, area_cm2: 0.196))
    }

    @Test("with 1 % noise: R within 2 %, CPE Q and n within 5 %, the truth within 4 standard errors", arguments: 1...6)
    func recoversParametersWithHonestErrors(seed: UInt64) throws {
        let result = try fit(noise: 0.01, seed: seed)
        #expect(result.converged)
        for (parameter, truth) in zip(result.parameters, Self.truth) {
            let relative = abs(parameter.value - truth) / truth
            let limit = parameter.name.hasPrefix("R") ? 0.02 : 0.05
            #expect(relative < limit, "\(parameter.name): \(parameter.value) vs \(truth)")
            let error = try #require(parameter.standardError, "\(parameter.name) has an error bar")
            #expect(abs(parameter.value - truth) < 4 * error, "\(parameter.name): \(parameter.value) +- \(error)")
            #expect(error < 0.05 * truth, "\(parameter.name) is determined: \(error)")
        }
        // The weighted residual per degree of freedom is the relative noise squared (1 % -> 1e-4).
        #expect(result.reducedChiSquare > 0.5e-4 && result.reducedChiSquare < 2e-4, "\(result.reducedChiSquare)")
        #expect(result.kramersKronig.isConsistent, "\(result.kramersKronig.residualRMS)")
    }

    @Test("error bars shrink tenfold with ten times less noise, and the fit gets closer")
    func errorBarsFollowTheNoise() throws {
        let noisy = try fit(noise: 0.01, seed: 11)
        let quiet = try fit(noise: 0.001, seed: 11)
        for (loud, calm) in zip(noisy.parameters, quiet.parameters) {
            let ratio = try #require(calm.standardError) / (try #require(loud.standardError))
            #expect(ratio > 0.05 && ratio < 0.2, "\(loud.name): \(ratio)")
        }
        for (parameter, truth) in zip(quiet.parameters, Self.truth) {
            #expect(abs(parameter.value - truth) / truth < 0.005, "\(parameter.name)")
        }
    }

    @Test("proportional weighting recovers the parameters as well")
    func proportionalWeighting() throws {
        let result = try fit(noise: 0.01, seed: 3, weighting: .proportional)
        for (parameter, truth) in zip(result.parameters, Self.truth) {
            #expect(abs(parameter.value - truth) / truth < (parameter.name.hasPrefix("R") ? 0.02 : 0.05))
        }
    }

    @Test("the interface is the lower-frequency arc, in Ohm cm2 and per interface (ASR / 2) for a symmetric cell")
    func interfaceInAreaSpecificUnits() throws {
        let result = try fit(noise: 0.001, seed: 5)
        let interface = try #require(result.interface)
        #expect(interface.element == "R2")
        let areaSpecific = try #require(interface.areaSpecific_Ohm_cm2)
        let perInterface = try #require(interface.perInterface_Ohm_cm2)
        let expected: Double = 300 * 0.196
        #expect(abs(areaSpecific - expected) < 0.01 * expected)
        #expect(abs(perInterface - expected / 2) < 0.01 * expected / 2)
        #expect(result.arcs.map(\.resistor) == ["R1", "R2"])
        #expect(result.arcs[0].characteristicFrequency_Hz > 300 * result.arcs[1].characteristicFrequency_Hz)
        let r2 = try #require(result.parameter("R2"))
        #expect(r2.areaSpecificUnit == "Ohm cm2")
        #expect(try #require(result.parameter("CPE2_Q")).areaSpecificUnit == "F s^(n-1)/cm2")
        #expect(result.parameter("CPE2_n")?.areaSpecificValue == nil)
    }

    @Test("a series resistance, inductance and Warburg tail are fitted too")
    func otherElements() throws {
        let circuit = "L0-R0-p(R1,CPE1)-W1"
        let truth = [2e-7, 20, 150, 1e-6, 0.85, 30]
        let points = try SyntheticSpectrum.points(
            circuit, parameters: truth, frequencies: Self.frequencies, relativeNoise: 0.002, seed: 8)
        let result = try ImpedanceFitter.fit(points, circuit: try EquivalentCircuit(parsing: circuit))
        for (parameter, value) in zip(result.parameters, truth) {
            #expect(abs(parameter.value - value) / value < 0.03, "\(parameter.name): \(parameter.value) vs \(value)")
        }
    }

    @Test("the K preset's simulated spectrum gives its configured 21 Ohm cm2 per interface within 5 %")
    func physicsCellInterface() throws {
        var cell = PhysicsCell(parameters: .potassiumBetaAlumina)
        let settings = ImpedanceSettings(
            control: .potentiostatic, startFrequency_Hz: 1e6, endFrequency_Hz: 1, pointsPerDecade: 10, amplitude: 0.01)
        let spectrum = cell.measureSpectrum(settings, startTime_s: 0)
        let step = PlannedStep(
            index: 1, cycle: 0, stepInCycle: 0, kind: .impedance, current_A: 0, currentDensity_mA_cm2: 0,
            impedance: settings,
            impedanceFit: ImpedanceFitSpecification(circuit: try EquivalentCircuit(parsing: "p(R1,CPE1)-p(R2,CPE2)")))
        let result = try #require(
            try ImpedanceFitter.fitMeasuredSpectrum(spectrum, step: step, area_cm2: 0.196, threeElectrode: false))
        let interface = try #require(result.interface)
        let configured = PhysicsCellParameters.potassiumBetaAlumina.interfacialResistance_Ohm_cm2
        let perInterface = try #require(interface.perInterface_Ohm_cm2)
        #expect(abs(perInterface - configured) < 0.05 * configured, "\(perInterface) Ohm cm2")
        #expect(interface.interfacesInSeries == 2)
        // The electrolyte: 1 mS/cm over 0.5 mm is 50 Ohm cm2.
        let bulk = try #require(result.parameter("R1")?.areaSpecificValue)
        #expect(abs(bulk - 50) < 0.05 * 50, "\(bulk)")
        #expect(result.kramersKronig.isConsistent)
    }

    @Test("lin-KK passes a clean spectrum and flags one whose interface grew during the sweep")
    func kramersKronigFlagsDrift() throws {
        let clean = try SyntheticSpectrum.points(
            Self.circuit, parameters: Self.truth, frequencies: Self.frequencies, relativeNoise: 0.002, seed: 2)
        let check = KramersKronig.check(clean)
        #expect(check.isConsistent && check.residualRMS < 0.004, "\(check.residualRMS)")
        #expect(check.elementCount > 3 && check.mu <= KramersKronig.defaultMuCutoff)
        // The interface resistance rises by half while the low frequencies are swept (voids growing).
        let model = CircuitModel(try EquivalentCircuit(parsing: Self.circuit))
        let count = Self.frequencies.count
        let drifting = Self.frequencies.enumerated().map { index, frequency in
            var parameters = Self.truth
            parameters[3] *= 1 + 0.5 * pow(Double(index) / Double(count - 1), 2)
            let value = model.impedance(atFrequency: frequency, parameters: parameters)
            return ImpedancePoint(
                time_s: Double(index), frequency_Hz: frequency, real_Ohm: value.real, imaginary_Ohm: value.imaginary)
        }
        let flagged = KramersKronig.check(drifting)
        #expect(!flagged.isConsistent, "\(flagged.residualRMS)")
        let fitted = try ImpedanceFitter.fit(drifting, circuit: try EquivalentCircuit(parsing: Self.circuit))
        #expect(fitted.warnings.contains { $0.contains("lin-KK") })
    }

    @Test("too few points, or a non-finite point, are refused with what is wrong")
    func refusesBadData() throws {
        let circuit = try EquivalentCircuit(parsing: Self.circuit)
        let points = try SyntheticSpectrum.points(
            Self.circuit, parameters: Self.truth, frequencies: Self.frequencies, relativeNoise: 0, seed: 1)
        #expect(throws: ImpedanceFitError.self) {
            _ = try ImpedanceFitter.fit(Array(points.prefix(3)), circuit: circuit)
        }
        var broken = points
        broken[4].real_Ohm = .nan
        #expect {
            _ = try ImpedanceFitter.fit(broken, circuit: circuit)
        } throws: { ($0 as? ImpedanceFitError)?.message.contains("point 4") == true }
        #expect {
            _ = try ImpedanceFitter.fit(points, circuit: circuit, options: .init(interfaceElement: "CPE2"))
        } throws: { ($0 as? ImpedanceFitError)?.message.contains("R1, R2") == true }
    }
}
