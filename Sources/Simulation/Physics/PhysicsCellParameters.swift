public import Domain

/// Everything that defines a physics-based simulated cell: geometry, electrolyte, interface kinetics, voiding,
/// dendrites and shorts, transients, impedance elements, measurement noise and environment.
///
/// Start from a named preset (`preset(named:)`) and change single values by name with `override(_:with:)`; the
/// names, units and meanings are listed in `catalogue`. Area-specific values are per electrode and per cm2 of
/// nominal electrode area; kinetic and voiding values are given at `referencePressure_MPa` and
/// `referenceTemperature_C` and scaled from there.
public struct PhysicsCellParameters: Sendable, Hashable {
    // MARK: Cell and conditions

    /// Metal of all electrodes.
    public var metal: AnodeMetal
    /// Nominal area of the working and counter electrodes, cm2.
    public var electrodeArea_cm2: Double
    /// Whether the cell has a reference electrode beside the working electrode (adds WE-RE readings).
    public var isThreeElectrode: Bool
    /// Seed of the noise and failure-timing random source.
    public var seed: UInt64
    /// Stack-pressure setpoint, MPa.
    public var stackPressure_MPa: Double
    /// Temperature setpoint, C.
    public var temperature_C: Double
    /// Initial metal thickness of each electrode, um; an electrode stripped bare loses contact.
    public var metalThickness_um: Double

    // MARK: Electrolyte

    public var electrolyteConductivity_mS_cm: Double
    public var electrolyteThickness_um: Double
    /// Bulk area-specific resistance given directly, Ohm cm2; 0 derives it from conductivity and thickness.
    public var bulkResistance_Ohm_cm2: Double
    /// Share of the bulk resistance that lies between the working and reference electrodes.
    public var referenceBulkShare: Double
    public var bulkActivationEnergy_eV: Double

    // MARK: Interface kinetics

    /// Charge-transfer resistance of one electrode at full contact in the linear regime, Ohm cm2.
    public var interfacialResistance_Ohm_cm2: Double
    /// Transfer coefficient alpha in i = i0 sinh(alpha F eta / RT).
    public var chargeTransferAlpha: Double
    public var interfaceActivationEnergy_eV: Double
    /// Pressure at which the interfacial resistance and the voiding current are given, MPa.
    public var referencePressure_MPa: Double
    /// Temperature at which resistances are given, C.
    public var referenceTemperature_C: Double
    /// Exponent n in R_int proportional to p^-n (Holm contact: 0.5).
    public var contactPressureExponent: Double

    // MARK: Voiding

    /// Nominal stripping current density above which voids grow, at the reference pressure, mA/cm2.
    public var voidingCurrentDensity_mA_cm2: Double
    /// Exponent n in voiding current proportional to p^n.
    public var voidingPressureExponent: Double
    /// Relative contact loss per second per unit of relative over-critical stripping current.
    public var voidGrowthRate_per_s: Double
    /// How much faster voids grow once the interface is damaged (1 doubles the rate when fully damaged).
    public var voidDamageGain: Double
    /// Over-critical stripped charge over which void-growth damage builds up (e-folding), mAh/cm2.
    public var voidDamageCharge_mAh_cm2: Double
    /// Plated charge that refills voids by a factor e, mAh/cm2.
    public var voidFillCharge_mAh_cm2: Double
    /// Time constant of contact recovery by creep at rest, at the reference pressure, s.
    public var creepRecoveryTime_s: Double
    /// Creep stress exponent: recovery time scales with p^-n.
    public var creepPressureExponent: Double
    public var minimumContactFraction: Double

    // MARK: Dendrites and shorts

    /// Local plating current density at which dendrites initiate, at full contact, mA/cm2.
    public var dendriteCCD_mA_cm2: Double
    /// Charge plated above the critical local current density before a dendrite initiates, mAh/cm2.
    public var dendriteIncubationCharge_mAh_cm2: Double
    /// Time for a dendrite to cross the electrolyte when plating at the critical density, s.
    public var dendriteCrossingTime_s: Double
    /// Fraction of the bulk resistance removed when a dendrite has crossed the electrolyte.
    public var dendriteBulkShortening: Double
    /// Relative gain of contact area at the plating electrode as a dendrite grows.
    public var dendriteAreaGain: Double
    public var softShortResistance_Ohm_cm2: Double
    public var softShortConnectRate_per_s: Double
    public var softShortBreakRate_per_s: Double
    public var softShortNoise_V: Double
    /// Charge plated after the first soft short before the short becomes permanent, mAh/cm2.
    public var hardShortCharge_mAh_cm2: Double
    public var hardShortResistance_Ohm_cm2: Double

    // MARK: Transients

    /// Extra plating overpotential at the start of plating on an electrode, V (magnitude), at 1 mA/cm2.
    public var nucleationOverpotential_V: Double
    public var nucleationTime_s: Double
    /// Exponent n in nucleation overpotential proportional to (current density / 1 mA/cm2)^-n (capped at 1 V):
    /// positive makes nucleation at low current larger. 0 keeps it the same at every current.
    public var nucleationCurrentExponent: Double = 0
    /// Nucleation overpotential (at 1 mA/cm2) and decay time of an electrode's first plating, on a surface without
    /// nuclei; 0 uses `nucleationOverpotential_V` and `nucleationTime_s` for it too.
    public var firstNucleationOverpotential_V: Double = 0
    public var firstNucleationTime_s: Double = 0
    /// Share of the interfacial overpotential that builds up slowly after a current change.
    public var relaxationFraction: Double
    public var relaxationTime_s: Double
    /// A second, slower share of the interfacial overpotential (minutes: diffusion in the metal or the interphase).
    public var slowRelaxationFraction: Double = 0
    public var slowRelaxationTime_s: Double = 300

    // MARK: Impedance elements

    /// Constant-phase coefficient of the electrolyte, F s^(a-1)/cm2.
    public var bulkCPE_F_cm2: Double
    public var bulkCPEExponent: Double
    /// Constant-phase coefficient of each interface, F s^(a-1)/cm2.
    public var interfaceCPE_F_cm2: Double
    public var interfaceCPEExponent: Double

    // MARK: Measurement noise

    public var voltageNoise_V: Double
    /// Standard deviation of the slow voltage drift, V.
    public var voltageDrift_V: Double
    public var voltageDriftTime_s: Double
    /// Probability of a single-sample spike per reading.
    public var voltageSpikeProbability: Double
    public var voltageSpikeAmplitude_V: Double
    /// Probability per reading that a burst of 2 to 6 disturbed readings begins (each off by up to a spike).
    public var voltageBurstProbability: Double = 0
    /// Instrument voltage resolution (quantisation step), V; 0 disables.
    public var voltageResolution_V: Double
    /// Standard deviation of each impedance reading's real and imaginary parts as a fraction of |Z| (an impedance
    /// analyser is accurate to a few tenths of a percent); 0 gives exact spectra.
    public var impedanceNoiseFraction: Double = 0.003

    // MARK: Environment

    public var pressureNoise_MPa: Double
    public var pressureDrift_MPa: Double
    public var pressureDriftTime_s: Double
    public var pressureResolution_MPa: Double
    /// Time for the clamp to bring the stack pressure back to its setpoint, s.
    public var pressureRelaxationTime_s: Double
    /// Stack-pressure change per um of metal plated on the working electrode, MPa/um.
    public var pressurePerMetalThickness_MPa_um: Double
    public var temperatureOscillation_C: Double
    public var temperaturePeriod_s: Double
    public var temperatureNoise_C: Double
    public var temperatureResolution_C: Double

    /// Electrolyte area-specific resistance at the reference temperature, Ohm cm2.
    public var effectiveBulkResistance_Ohm_cm2: Double {
        if bulkResistance_Ohm_cm2 > 0 { return bulkResistance_Ohm_cm2 }
        let thickness_cm = electrolyteThickness_um * 1e-4
        let conductivity_S_cm = electrolyteConductivity_mS_cm * 1e-3
        return thickness_cm / conductivity_S_cm
    }

    /// The same parameters with every noise source and environment fluctuation switched off.
    public var withoutNoise: PhysicsCellParameters {
        var quiet = self
        quiet.voltageNoise_V = 0
        quiet.voltageDrift_V = 0
        quiet.voltageSpikeProbability = 0
        quiet.voltageBurstProbability = 0
        quiet.voltageResolution_V = 0
        quiet.impedanceNoiseFraction = 0
        quiet.softShortNoise_V = 0
        quiet.pressureNoise_MPa = 0
        quiet.pressureDrift_MPa = 0
        quiet.pressureResolution_MPa = 0
        quiet.temperatureOscillation_C = 0
        quiet.temperatureNoise_C = 0
        quiet.temperatureResolution_C = 0
        return quiet
    }
}
