import Domain

/// Why a preset or a parameter override was refused; the message names the offending input and what is allowed.
public enum PhysicsParameterError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownParameter(String, allowed: [String])
    case invalidValue(parameter: String, value: String, expected: String)
    case unknownPreset(String, allowed: [String])

    public var description: String {
        switch self {
        case .unknownParameter(let name, let allowed):
            "unknown simulated-cell parameter '\(name)'; allowed: \(allowed.joined(separator: ", "))"
        case .invalidValue(let parameter, let value, let expected):
            "invalid value \(value) for simulated-cell parameter '\(parameter)': expected \(expected)"
        case .unknownPreset(let name, let allowed):
            "unknown simulated-cell preset '\(name)'; allowed: \(allowed.joined(separator: ", "))"
        }
    }
}

/// One overridable parameter of a physics cell: its name in rig files, canonical unit, meaning and valid range.
public struct PhysicsParameterInfo: Sendable, Hashable {
    public let name: String
    /// Canonical unit of the value; "1" for dimensionless numbers, "flag" for 0/1.
    public let unit: String
    public let summary: String
    public let allowedRange: ClosedRange<Double>
}

extension PhysicsCellParameters {
    /// Every parameter that `override(_:with:)` accepts, in a stable order.
    public static var catalogue: [PhysicsParameterInfo] { entries.map(\.info) }

    /// The names `override(_:with:)` accepts (plus `metal`, which takes Li, Na or K as text).
    public static var parameterNames: [String] { entries.map(\.info.name) + ["metal"] }

    /// Sets one numeric parameter by name, in its canonical unit (see `catalogue`).
    public mutating func override(_ name: String, with value: Double) throws(PhysicsParameterError) {
        guard let entry = Self.entries.first(where: { $0.info.name == name }) else {
            if name == "metal" {
                throw .invalidValue(parameter: name, value: "\(value)", expected: "one of Li, Na, K as text")
            }
            throw .unknownParameter(name, allowed: Self.parameterNames)
        }
        let range = entry.info.allowedRange
        guard value.isFinite, range.contains(value) else {
            throw .invalidValue(
                parameter: name, value: "\(value)",
                expected: "\(entry.info.unit) in \(range.lowerBound)...\(range.upperBound)")
        }
        switch entry.access {
        case .real(let keyPath):
            self[keyPath: keyPath] = value
        case .flag(let keyPath):
            guard value == 0 || value == 1 else {
                throw .invalidValue(parameter: name, value: "\(value)", expected: "0 or 1")
            }
            self[keyPath: keyPath] = value == 1
        case .seed:
            guard let seedValue = UInt64(exactly: value) else {
                throw .invalidValue(parameter: name, value: "\(value)", expected: "a whole number")
            }
            seed = seedValue
        }
    }

    /// Sets a parameter from text as written in a rig file: `metal` takes Li, Na or K, every other name a number.
    public mutating func override(_ name: String, with text: String) throws(PhysicsParameterError) {
        if name == "metal" {
            guard let chosen = AnodeMetal(rawValue: text) else {
                throw .invalidValue(parameter: name, value: text, expected: "one of Li, Na, K")
            }
            metal = chosen
            return
        }
        guard let value = Double(text) else {
            guard Self.entries.contains(where: { $0.info.name == name }) else {
                throw .unknownParameter(name, allowed: Self.parameterNames)
            }
            throw .invalidValue(parameter: name, value: text, expected: "a number")
        }
        try override(name, with: value)
    }

    /// The current value of a numeric parameter by name (flags as 0/1).
    public func value(of name: String) throws(PhysicsParameterError) -> Double {
        guard let entry = Self.entries.first(where: { $0.info.name == name }) else {
            throw .unknownParameter(name, allowed: Self.parameterNames)
        }
        switch entry.access {
        case .real(let keyPath): return self[keyPath: keyPath]
        case .flag(let keyPath): return self[keyPath: keyPath] ? 1 : 0
        case .seed: return Double(seed)
        }
    }
}

// MARK: - The table behind the catalogue

private enum ParameterAccess: Sendable {
    case real(any WritableKeyPath<PhysicsCellParameters, Double> & Sendable)
    case flag(any WritableKeyPath<PhysicsCellParameters, Bool> & Sendable)
    case seed
}

private struct ParameterEntry: Sendable {
    let info: PhysicsParameterInfo
    let access: ParameterAccess

    init(
        _ name: String, _ unit: String, _ range: ClosedRange<Double>, _ access: ParameterAccess, _ summary: String
    ) {
        info = PhysicsParameterInfo(name: name, unit: unit, summary: summary, allowedRange: range)
        self.access = access
    }
}

private let positive = Double.leastNonzeroMagnitude...Double.greatestFiniteMagnitude
private let nonNegative = 0.0...Double.greatestFiniteMagnitude
private let fraction = 0.0...1.0

extension PhysicsCellParameters {
    fileprivate static let entries: [ParameterEntry] = [
        // Cell and conditions
        ParameterEntry(
            "electrodeArea_cm2", "cm2", positive, .real(\.electrodeArea_cm2),
            "nominal area of the working and counter electrodes"),
        ParameterEntry("threeElectrode", "flag", fraction, .flag(\.isThreeElectrode), "1 adds a reference electrode"),
        ParameterEntry("seed", "1", 0...0x1p53, .seed, "seed of the noise and failure-timing random source"),
        ParameterEntry("stackPressure_MPa", "MPa", positive, .real(\.stackPressure_MPa), "stack-pressure setpoint"),
        ParameterEntry("temperature_C", "C", -100...400, .real(\.temperature_C), "temperature setpoint"),
        ParameterEntry(
            "metalThickness_um", "um", positive, .real(\.metalThickness_um), "initial metal thickness per electrode"),
        // Electrolyte
        ParameterEntry(
            "electrolyteConductivity_mS_cm", "mS/cm", positive, .real(\.electrolyteConductivity_mS_cm),
            "ionic conductivity of the solid electrolyte at the reference temperature"),
        ParameterEntry(
            "electrolyteThickness_um", "um", positive, .real(\.electrolyteThickness_um),
            "thickness of the solid electrolyte"),
        ParameterEntry(
            "bulkResistance_Ohm_cm2", "Ohm cm2", nonNegative, .real(\.bulkResistance_Ohm_cm2),
            "electrolyte area-specific resistance given directly; 0 derives it from conductivity and thickness"),
        ParameterEntry(
            "referenceBulkShare", "1", fraction, .real(\.referenceBulkShare),
            "share of the bulk resistance between working and reference electrode"),
        ParameterEntry(
            "bulkActivationEnergy_eV", "eV", nonNegative, .real(\.bulkActivationEnergy_eV),
            "Arrhenius activation energy of the electrolyte conductivity"),
        // Interface kinetics
        ParameterEntry(
            "interfacialResistance_Ohm_cm2", "Ohm cm2", positive, .real(\.interfacialResistance_Ohm_cm2),
            "charge-transfer resistance per electrode at full contact, linear regime"),
        ParameterEntry(
            "chargeTransferAlpha", "1", 0.01...2, .real(\.chargeTransferAlpha),
            "transfer coefficient alpha in i = i0 sinh(alpha F eta / RT)"),
        ParameterEntry(
            "interfaceActivationEnergy_eV", "eV", nonNegative, .real(\.interfaceActivationEnergy_eV),
            "Arrhenius activation energy of the exchange current density"),
        ParameterEntry(
            "referencePressure_MPa", "MPa", positive, .real(\.referencePressure_MPa),
            "pressure at which interfacial resistance and voiding current are given"),
        ParameterEntry(
            "referenceTemperature_C", "C", -100...400, .real(\.referenceTemperature_C),
            "temperature at which resistances are given"),
        ParameterEntry(
            "contactPressureExponent", "1", 0...5, .real(\.contactPressureExponent),
            "n in interfacial resistance proportional to pressure^-n (Holm contact 0.5)"),
        // Voiding
        ParameterEntry(
            "voidingCurrentDensity_mA_cm2", "mA/cm2", positive, .real(\.voidingCurrentDensity_mA_cm2),
            "stripping current density above which voids grow, at the reference pressure"),
        ParameterEntry(
            "voidingPressureExponent", "1", 0...10, .real(\.voidingPressureExponent),
            "n in voiding current density proportional to pressure^n"),
        ParameterEntry(
            "voidGrowthRate_per_s", "1/s", nonNegative, .real(\.voidGrowthRate_per_s),
            "relative contact loss per second per unit of relative over-critical stripping current"),
        ParameterEntry(
            "voidDamageGain", "1", nonNegative, .real(\.voidDamageGain),
            "extra void-growth rate of a fully damaged interface (1 doubles it)"),
        ParameterEntry(
            "voidDamageCharge_mAh_cm2", "mAh/cm2", positive, .real(\.voidDamageCharge_mAh_cm2),
            "over-critical stripped charge over which interface damage builds up"),
        ParameterEntry(
            "voidFillCharge_mAh_cm2", "mAh/cm2", positive, .real(\.voidFillCharge_mAh_cm2),
            "plated charge that refills voids by a factor e"),
        ParameterEntry(
            "creepRecoveryTime_s", "s", positive, .real(\.creepRecoveryTime_s),
            "time constant of contact recovery by creep at the reference pressure"),
        ParameterEntry(
            "creepPressureExponent", "1", 0...20, .real(\.creepPressureExponent),
            "creep stress exponent; recovery time scales with pressure^-n"),
        ParameterEntry(
            "minimumContactFraction", "1", 1e-6...1, .real(\.minimumContactFraction),
            "smallest contact fraction voiding can leave"),
        // Dendrites and shorts
        ParameterEntry(
            "dendriteCCD_mA_cm2", "mA/cm2", positive, .real(\.dendriteCCD_mA_cm2),
            "local plating current density that initiates dendrites (the CCD at full contact)"),
        ParameterEntry(
            "dendriteIncubationCharge_mAh_cm2", "mAh/cm2", nonNegative, .real(\.dendriteIncubationCharge_mAh_cm2),
            "charge plated above the critical local density before a dendrite initiates"),
        ParameterEntry(
            "dendriteCrossingTime_s", "s", positive, .real(\.dendriteCrossingTime_s),
            "time for a dendrite to cross the electrolyte when plating at the CCD"),
        ParameterEntry(
            "dendriteBulkShortening", "1", 0...0.99, .real(\.dendriteBulkShortening),
            "share of the bulk resistance bypassed once a dendrite has crossed"),
        ParameterEntry(
            "dendriteAreaGain", "1", nonNegative, .real(\.dendriteAreaGain),
            "relative contact-area gain at the plating electrode from a grown dendrite"),
        ParameterEntry(
            "softShortResistance_Ohm_cm2", "Ohm cm2", positive, .real(\.softShortResistance_Ohm_cm2),
            "area-specific resistance of an intermittent (soft) short while connected"),
        ParameterEntry(
            "softShortConnectRate_per_s", "1/s", nonNegative, .real(\.softShortConnectRate_per_s),
            "rate at which a broken soft short reconnects"),
        ParameterEntry(
            "softShortBreakRate_per_s", "1/s", nonNegative, .real(\.softShortBreakRate_per_s),
            "rate at which a connected soft short breaks"),
        ParameterEntry(
            "softShortNoise_V", "V", nonNegative, .real(\.softShortNoise_V),
            "extra white voltage noise while soft-shorted"),
        ParameterEntry(
            "hardShortCharge_mAh_cm2", "mAh/cm2", nonNegative, .real(\.hardShortCharge_mAh_cm2),
            "charge plated after the first soft short before the short is permanent"),
        ParameterEntry(
            "hardShortResistance_Ohm_cm2", "Ohm cm2", positive, .real(\.hardShortResistance_Ohm_cm2),
            "area-specific resistance of the permanent (hard) short"),
        // Transients
        ParameterEntry(
            "nucleationOverpotential_V", "V", nonNegative, .real(\.nucleationOverpotential_V),
            "extra overpotential (magnitude) at the start of plating on an electrode"),
        ParameterEntry(
            "nucleationTime_s", "s", positive, .real(\.nucleationTime_s),
            "decay time of the nucleation overpotential"),
        ParameterEntry(
            "nucleationCurrentExponent", "1", 0...3, .real(\.nucleationCurrentExponent),
            "n in nucleation overpotential proportional to (current density / 1 mA/cm2)^-n, capped at 1 V"),
        ParameterEntry(
            "firstNucleationOverpotential_V", "V", nonNegative, .real(\.firstNucleationOverpotential_V),
            "nucleation overpotential of an electrode's first plating at 1 mA/cm2; 0 uses nucleationOverpotential_V"),
        ParameterEntry(
            "firstNucleationTime_s", "s", nonNegative, .real(\.firstNucleationTime_s),
            "decay time of the first plating's nucleation overpotential; 0 uses nucleationTime_s"),
        ParameterEntry(
            "relaxationFraction", "1", fraction, .real(\.relaxationFraction),
            "share of the interfacial overpotential that builds up slowly after a current change"),
        ParameterEntry(
            "relaxationTime_s", "s", positive, .real(\.relaxationTime_s),
            "time constant of the slow interfacial polarisation"),
        ParameterEntry(
            "slowRelaxationFraction", "1", fraction, .real(\.slowRelaxationFraction),
            "a second, slower share of the interfacial overpotential (0 disables)"),
        ParameterEntry(
            "slowRelaxationTime_s", "s", positive, .real(\.slowRelaxationTime_s),
            "time constant of the second, slower polarisation"),
        // Impedance
        ParameterEntry(
            "bulkCPE_F_cm2", "F s^(a-1)/cm2", positive, .real(\.bulkCPE_F_cm2),
            "constant-phase coefficient of the electrolyte"),
        ParameterEntry(
            "bulkCPEExponent", "1", 0.01...1, .real(\.bulkCPEExponent), "constant-phase exponent of the electrolyte"),
        ParameterEntry(
            "interfaceCPE_F_cm2", "F s^(a-1)/cm2", positive, .real(\.interfaceCPE_F_cm2),
            "constant-phase coefficient of each interface"),
        ParameterEntry(
            "interfaceCPEExponent", "1", 0.01...1, .real(\.interfaceCPEExponent),
            "constant-phase exponent of each interface"),
        // Measurement noise
        ParameterEntry(
            "voltageNoise_V", "V", nonNegative, .real(\.voltageNoise_V), "white voltage noise (standard deviation)"),
        ParameterEntry(
            "voltageDrift_V", "V", nonNegative, .real(\.voltageDrift_V), "slow voltage drift (standard deviation)"),
        ParameterEntry(
            "voltageDriftTime_s", "s", positive, .real(\.voltageDriftTime_s), "correlation time of the drift"),
        ParameterEntry(
            "voltageSpikeProbability", "1", fraction, .real(\.voltageSpikeProbability),
            "probability of a single-sample voltage spike per reading"),
        ParameterEntry(
            "voltageSpikeAmplitude_V", "V", nonNegative, .real(\.voltageSpikeAmplitude_V),
            "largest voltage spike amplitude"),
        ParameterEntry(
            "voltageBurstProbability", "1", fraction, .real(\.voltageBurstProbability),
            "probability per reading that a burst of 2 to 6 disturbed readings begins"),
        ParameterEntry(
            "voltageResolution_V", "V", nonNegative, .real(\.voltageResolution_V),
            "voltage quantisation step of the instrument; 0 disables"),
        ParameterEntry(
            "impedanceNoiseFraction", "1", fraction, .real(\.impedanceNoiseFraction),
            "noise of each impedance reading's real and imaginary parts, as a fraction of |Z|; 0 gives exact spectra"),
        // Environment
        ParameterEntry(
            "pressureNoise_MPa", "MPa", nonNegative, .real(\.pressureNoise_MPa), "white noise of the pressure sensor"),
        ParameterEntry(
            "pressureDrift_MPa", "MPa", nonNegative, .real(\.pressureDrift_MPa), "slow drift of the pressure sensor"),
        ParameterEntry(
            "pressureDriftTime_s", "s", positive, .real(\.pressureDriftTime_s), "correlation time of the pressure drift"
        ),
        ParameterEntry(
            "pressureResolution_MPa", "MPa", nonNegative, .real(\.pressureResolution_MPa),
            "pressure sensor quantisation step; 0 disables"),
        ParameterEntry(
            "pressureRelaxationTime_s", "s", positive, .real(\.pressureRelaxationTime_s),
            "time for the clamp to return the stack pressure to its setpoint"),
        ParameterEntry(
            "pressurePerMetalThickness_MPa_um", "MPa/um", -10...10, .real(\.pressurePerMetalThickness_MPa_um),
            "stack-pressure change per um of metal plated on the working electrode"),
        ParameterEntry(
            "temperatureOscillation_C", "C", nonNegative, .real(\.temperatureOscillation_C),
            "amplitude of the temperature controller's oscillation"),
        ParameterEntry(
            "temperaturePeriod_s", "s", positive, .real(\.temperaturePeriod_s), "period of the temperature oscillation"),
        ParameterEntry(
            "temperatureNoise_C", "C", nonNegative, .real(\.temperatureNoise_C), "white noise of the temperature sensor"
        ),
        ParameterEntry(
            "temperatureResolution_C", "C", nonNegative, .real(\.temperatureResolution_C),
            "temperature sensor quantisation step; 0 disables"),
    ]
}
