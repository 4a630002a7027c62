import Domain

extension PhysicsCellParameters {
    /// The macroscopic cells of the domain brief's reference table, in its order (the criteria benchmark runs each).
    public static let presetNames = ["k-beta-alumina", "na-beta-alumina", "li-lpscl", "li-llzo"]
    /// Every name `preset(named:)` accepts: the macroscopic cells and the Li microelectrode (seed 003).
    public static let allPresetNames = presetNames + ["li-lpscl-microelectrode"]

    /// The parameters of a named reference cell (see `presetNames`).
    public static func preset(named name: String) throws(PhysicsParameterError) -> PhysicsCellParameters {
        switch name {
        case "k-beta-alumina": return .potassiumBetaAlumina
        case "na-beta-alumina": return .sodiumBetaAlumina
        case "li-lpscl": return .lithiumArgyrodite
        case "li-llzo": return .lithiumGarnet
        case "li-lpscl-microelectrode": return .lithiumArgyroditeMicroelectrode
        default: throw .unknownPreset(name, allowed: allPresetNames)
        }
    }

    /// K | K-beta''-alumina | K, 5 mm electrodes, 20 C, 2.5 MPa (seed 000).
    ///
    /// 21 Ohm cm2 per interface (best surface treatment), 1 mS/cm over 0.5 mm of electrolyte (50 Ohm cm2),
    /// dendrites at 4.8 mA/cm2, voiding from about 2 mA/cm2 (slight at 2, strong at 3).
    public static let potassiumBetaAlumina = PhysicsCellParameters(
        metal: .k,
        electrodeArea_cm2: 0.196,
        isThreeElectrode: false,
        seed: 1,
        stackPressure_MPa: 2.5,
        temperature_C: 20,
        metalThickness_um: 300,
        electrolyteConductivity_mS_cm: 1.0,
        electrolyteThickness_um: 500,
        bulkResistance_Ohm_cm2: 0,
        referenceBulkShare: 0.02,
        bulkActivationEnergy_eV: 0.25,
        interfacialResistance_Ohm_cm2: 21,
        chargeTransferAlpha: 0.25,
        interfaceActivationEnergy_eV: 0.35,
        referencePressure_MPa: 2.5,
        referenceTemperature_C: 20,
        contactPressureExponent: 0.5,
        voidingCurrentDensity_mA_cm2: 1.9,
        voidingPressureExponent: 0.8,
        voidGrowthRate_per_s: 2.4e-3,
        voidDamageGain: 0.7,
        voidDamageCharge_mAh_cm2: 12.5,
        voidFillCharge_mAh_cm2: 0.01,
        creepRecoveryTime_s: 600,
        creepPressureExponent: 6.5,
        minimumContactFraction: 0.02,
        dendriteCCD_mA_cm2: 4.8,
        dendriteIncubationCharge_mAh_cm2: 0.08,
        dendriteCrossingTime_s: 40,
        dendriteBulkShortening: 0.5,
        dendriteAreaGain: 0.5,
        softShortResistance_Ohm_cm2: 30,
        softShortConnectRate_per_s: 0.3,
        softShortBreakRate_per_s: 0.5,
        softShortNoise_V: 0.002,
        hardShortCharge_mAh_cm2: 0.06,
        hardShortResistance_Ohm_cm2: 0.5,
        nucleationOverpotential_V: 0.03,
        nucleationTime_s: 2,
        relaxationFraction: 0.15,
        relaxationTime_s: 4,
        bulkCPE_F_cm2: 2e-10,
        bulkCPEExponent: 0.95,
        interfaceCPE_F_cm2: 5e-6,
        interfaceCPEExponent: 0.85,
        voltageNoise_V: 5e-5,
        voltageDrift_V: 2e-4,
        voltageDriftTime_s: 900,
        voltageSpikeProbability: 1e-4,
        voltageSpikeAmplitude_V: 0.005,
        voltageResolution_V: 1e-5,
        pressureNoise_MPa: 0.005,
        pressureDrift_MPa: 0.02,
        pressureDriftTime_s: 3600,
        pressureResolution_MPa: 0.001,
        pressureRelaxationTime_s: 300,
        pressurePerMetalThickness_MPa_um: 0.01,
        temperatureOscillation_C: 0.1,
        temperaturePeriod_s: 1800,
        temperatureNoise_C: 0.02,
        temperatureResolution_C: 0.01
    )

    /// Na | Na-beta''-alumina | Na at room temperature and 4 MPa: voiding from 1.5 mA/cm2 at 4 MPa (2.5 at 9 MPa),
    /// dendrites at 5 mA/cm2 (reported 3-12).
    public static let sodiumBetaAlumina: PhysicsCellParameters = {
        var cell = potassiumBetaAlumina
        cell.metal = .na
        cell.stackPressure_MPa = 4
        cell.temperature_C = 25
        cell.referencePressure_MPa = 4
        cell.referenceTemperature_C = 25
        cell.electrolyteConductivity_mS_cm = 2.0
        cell.electrolyteThickness_um = 1000
        cell.interfacialResistance_Ohm_cm2 = 10
        cell.voidingCurrentDensity_mA_cm2 = 1.5
        cell.voidingPressureExponent = 0.63
        cell.dendriteCCD_mA_cm2 = 5.0
        cell.nucleationOverpotential_V = 0.04
        cell.pressurePerMetalThickness_MPa_um = 0.015
        return cell
    }()

    /// Li | Li6PS5Cl | Li at room temperature and 5 MPa: R_int 0.8 Ohm cm2 (i0 about 32 mA/cm2, linear only to a
    /// few mV), 1.65 mS/cm, voiding from 0.2 mA/cm2 at 3 MPa, dendrites at 1 mA/cm2.
    public static let lithiumArgyrodite: PhysicsCellParameters = {
        var cell = potassiumBetaAlumina
        cell.metal = .li
        cell.stackPressure_MPa = 5
        cell.temperature_C = 25
        cell.referencePressure_MPa = 3
        cell.referenceTemperature_C = 25
        cell.metalThickness_um = 100
        cell.electrolyteConductivity_mS_cm = 1.65
        cell.electrolyteThickness_um = 600
        cell.interfacialResistance_Ohm_cm2 = 0.8
        cell.chargeTransferAlpha = 1.0
        cell.voidingCurrentDensity_mA_cm2 = 0.2
        cell.voidingPressureExponent = 1.0
        cell.voidFillCharge_mAh_cm2 = 0.003
        cell.dendriteCCD_mA_cm2 = 1.0
        cell.dendriteIncubationCharge_mAh_cm2 = 0.02
        cell.hardShortCharge_mAh_cm2 = 0.015
        cell.nucleationOverpotential_V = 0.05
        cell.pressurePerMetalThickness_MPa_um = 0.02
        return cell
    }()

    /// Li | LLZO | Li at room temperature and 3.2 MPa: a well-treated interface (10 Ohm cm2), 0.5 mS/cm,
    /// voiding from 0.2 mA/cm2 at 3.2 MPa, dendrites at 0.5 mA/cm2.
    public static let lithiumGarnet: PhysicsCellParameters = {
        var cell = lithiumArgyrodite
        cell.stackPressure_MPa = 3.2
        cell.referencePressure_MPa = 3.2
        cell.electrolyteConductivity_mS_cm = 0.5
        cell.electrolyteThickness_um = 1000
        cell.interfacialResistance_Ohm_cm2 = 10
        cell.chargeTransferAlpha = 0.5
        cell.voidingCurrentDensity_mA_cm2 = 0.2
        cell.dendriteCCD_mA_cm2 = 0.5
        cell.dendriteIncubationCharge_mAh_cm2 = 0.01
        cell.hardShortCharge_mAh_cm2 = 0.01
        return cell
    }()

    /// A Li microelectrode (10 um diameter) on Li6PS5Cl against a large Li counter and a Li reference, at room
    /// temperature and 5 MPa (seed 003): the same interface (0.8 Ohm cm2, i0 about 32 mA/cm2, alpha 1) on
    /// 7.85e-7 cm2, so about 25 nA of exchange current, and the electrolyte's spreading resistance 1 / (2 sigma d),
    /// about 300 kOhm, almost all of it between the microelectrode and the reference.
    ///
    /// Changed from the macroscopic cell, and why: a contact this small is resupplied by creep and diffusion from
    /// every side (the flux scales as 1/d), so neither voids nor dendrites start at the nominal densities of a
    /// millimetre electrode (tens of mA/cm2 here for nA currents); the metal is already there, so plating shows no
    /// nucleation overpotential; the double layer charges within microseconds, so the slow share of the
    /// overpotential relaxes within 20 ms. Noise is that of a low-current range (2 uV).
    public static let lithiumArgyroditeMicroelectrode: PhysicsCellParameters = {
        var cell = lithiumArgyrodite
        cell.isThreeElectrode = true
        cell.stackPressure_MPa = 5
        cell.referencePressure_MPa = 5
        cell.electrodeArea_cm2 = 7.854e-7
        // 1 / (2 sigma d) = 1 / (2 x 1.65 mS/cm x 10 um) = 303 kOhm, times the area.
        cell.bulkResistance_Ohm_cm2 = 0.238
        cell.referenceBulkShare = 0.95
        cell.voidingCurrentDensity_mA_cm2 = 5000
        cell.dendriteCCD_mA_cm2 = 5000
        cell.nucleationOverpotential_V = 0
        cell.relaxationTime_s = 0.02
        cell.voltageNoise_V = 2e-6
        cell.voltageDrift_V = 2e-6
        cell.voltageSpikeProbability = 0
        cell.voltageResolution_V = 1e-6
        return cell
    }()
}
