/// An alkali metal used as electrode; fixes the melting point and the thickness consumed per mAh/cm2.
public enum AnodeMetal: String, Sendable, Hashable, Codable, CaseIterable {
    case li = "Li"
    case na = "Na"
    case k = "K"

    public var meltingPoint_C: Double {
        switch self {
        case .li: 180.5
        case .na: 97.8
        case .k: 63.5
        }
    }

    /// Metal thickness plated or stripped per mAh/cm2, in micrometres.
    public var thicknessPerArealCapacity_um: Double {
        switch self {
        case .li: 4.85
        case .na: 8.86
        case .k: 16.9
        }
    }
}

/// The cell on a rig: what it is made of and its geometry. Recorded with every run.
public struct CellDescription: Sendable, Hashable, Codable {
    /// The operator's label for this cell (sample id).
    public var label: String?
    public var metal: AnodeMetal
    public var electrolyte: String
    public var electrolyteThickness_um: Double?
    /// Ionic conductivity of the electrolyte at the test temperature, S/cm.
    public var electrolyteConductivity_S_cm: Double?
    /// Working-electrode area; converts current densities to currents.
    public var electrodeArea_cm2: Double
    public var referenceArea_cm2: Double?
    /// Initial metal thickness of each electrode, in micrometres.
    public var metalThickness_um: Double?
    public var pretreatment: String?
    public var stackPressure_MPa: Double?
    public var temperature_C: Double?

    public init(
        label: String? = nil, metal: AnodeMetal, electrolyte: String, electrolyteThickness_um: Double? = nil,
        electrolyteConductivity_S_cm: Double? = nil, electrodeArea_cm2: Double, referenceArea_cm2: Double? = nil,
        metalThickness_um: Double? = nil,
        pretreatment: String? = nil, stackPressure_MPa: Double? = nil, temperature_C: Double? = nil
    ) {
        self.label = label
        self.metal = metal
        self.electrolyte = electrolyte
        self.electrolyteThickness_um = electrolyteThickness_um
        self.electrolyteConductivity_S_cm = electrolyteConductivity_S_cm
        self.electrodeArea_cm2 = electrodeArea_cm2
        self.referenceArea_cm2 = referenceArea_cm2
        self.metalThickness_um = metalThickness_um
        self.pretreatment = pretreatment
        self.stackPressure_MPa = stackPressure_MPa
        self.temperature_C = temperature_C
    }
}

extension CellDescription {
    /// The electrolyte's area resistance, Ohm cm2 (thickness over conductivity), when both are known.
    public var electrolyteResistance_Ohm_cm2: Double? {
        guard let thickness = electrolyteThickness_um, let conductivity = electrolyteConductivity_S_cm,
            thickness > 0, conductivity > 0
        else { return nil }
        return thickness * 1e-4 / conductivity
    }
}

/// Limits set on the instrument itself at every step, so that a dead host still leaves the cell safe.
public struct HardwareLimits: Sendable, Hashable, Codable {
    /// Compliance: the instrument never drives the cell beyond +/- this voltage.
    public var voltage_V: Double
    /// The largest current the rig may ever apply.
    public var current_A: Double

    public init(voltage_V: Double, current_A: Double) {
        self.voltage_V = voltage_V
        self.current_A = current_A
    }
}

/// How a simulated instrument paces cell time against wall time.
public enum SimulationSpeed: Sendable, Hashable, Codable {
    /// As fast as the host can compute.
    case unlimited
    /// Cell seconds per wall second (1 is real time).
    case factor(Double)
}

/// Which driver runs the rig's galvanostat and how to reach it.
public enum GalvanostatConfiguration: Sendable, Hashable, Codable {
    /// The in-process simulator driven by a cell model.
    case simulated(SimulatedCellConfiguration)
    /// A PalmSens EmStat4 or Nexus on a serial port, through MethodSCRIPT.
    case methodScript(MethodScriptConfiguration)
    /// A Keithley 2400 SourceMeter on a serial port, through SCPI.
    case keithley2400(Keithley2400Configuration)

    /// The driver's name as rig files write it.
    public var driverName: String {
        switch self {
        case .simulated: "simulated"
        case .methodScript: "methodscript"
        case .keithley2400: "keithley2400"
        }
    }

    /// The serial line, for drivers on a port.
    public var line: SerialLineConfiguration? {
        switch self {
        case .simulated: nil
        case .methodScript(let configuration): configuration.line
        case .keithley2400(let configuration): configuration.line
        }
    }
}

/// Which model a simulated galvanostat drives.
public enum SimulatedCellModel: Sendable, Hashable, Codable {
    /// Resistances, noise and a short at a fixed current density (``OhmicCell`` in Simulation).
    case ohmic
    /// The physics-based cell from a named preset (`k-beta-alumina`, ...), with parameter overrides.
    case physics(preset: String)
}

/// One `parameters:` entry of a simulated rig: a model parameter by name, as written, and where.
public struct SimulatedCellParameter: Sendable, Hashable, Codable {
    public var name: String
    public var text: String
    public var line: Int?
    public var column: Int?

    public init(name: String, text: String, line: Int? = nil, column: Int? = nil) {
        self.name = name
        self.text = text
        self.line = line
        self.column = column
    }
}

/// The heater of a simulated rig (its oven or heated clamp): `set_temperature` steps move the cell's temperature
/// toward their setpoint as a first-order lag, as a controlled oven does once its controller has settled.
public struct SimulatedHeater: Sendable, Hashable, Codable {
    /// The highest setpoint a protocol may ask for, C.
    public var maximumSetpoint_C: Double
    /// The time constant of the cell's temperature following the setpoint, s.
    public var timeConstant_s: Double

    public init(maximumSetpoint_C: Double = 120, timeConstant_s: Double = 300) {
        self.maximumSetpoint_C = maximumSetpoint_C
        self.timeConstant_s = timeConstant_s
    }
}

/// Parameters of a simulated cell; every value has a default so a rig file may give only what it changes.
public struct SimulatedCellConfiguration: Sendable, Hashable, Codable {
    public var speed: SimulationSpeed
    /// The rig's heater, if it has one (`heater:` in the rig file); without one `set_temperature` is refused.
    public var heater: SimulatedHeater?
    public var seed: UInt64
    public var model: SimulatedCellModel = .ohmic
    /// Overrides of the physics model's parameters (names from its catalogue, numbers in the unit the name says).
    public var parameters: [SimulatedCellParameter] = []
    /// Electrolyte bulk resistance times area, Ohm cm2.
    public var bulkResistance_Ohm_cm2: Double
    /// Interfacial resistance of each electrode, Ohm cm2.
    public var interfacialResistance_Ohm_cm2: Double
    /// Plating current density at which dendrites short the cell, mA/cm2.
    public var criticalCurrentDensity_mA_cm2: Double
    /// Plating time at or above the critical current density before the short begins.
    public var shortDelay_s: Double
    /// Resistance of the short once fully formed, Ohm.
    public var shortResistance_Ohm: Double
    /// Standard deviation of the voltage noise, V.
    public var noise_V: Double

    public init(
        speed: SimulationSpeed = .unlimited, seed: UInt64 = 1, bulkResistance_Ohm_cm2: Double = 100,
        interfacialResistance_Ohm_cm2: Double = 21, criticalCurrentDensity_mA_cm2: Double = 4.8,
        shortDelay_s: Double = 60, shortResistance_Ohm: Double = 5, noise_V: Double = 1e-4
    ) {
        self.speed = speed
        self.seed = seed
        self.bulkResistance_Ohm_cm2 = bulkResistance_Ohm_cm2
        self.interfacialResistance_Ohm_cm2 = interfacialResistance_Ohm_cm2
        self.criticalCurrentDensity_mA_cm2 = criticalCurrentDensity_mA_cm2
        self.shortDelay_s = shortDelay_s
        self.shortResistance_Ohm = shortResistance_Ohm
        self.noise_V = noise_V
    }
}

/// A test station as declared in a file under `rigs/`: the cell it holds, its instruments and their limits.
public struct RigDescription: Sendable, Hashable, Codable {
    /// Short name used on the command line (`--rig sim`).
    public var id: String
    public var name: String
    public var cell: CellDescription
    public var limits: HardwareLimits
    public var galvanostat: GalvanostatConfiguration
    /// The stack-pressure sensor, if the rig has one; its reading becomes every sample's `pressure_MPa`.
    public var pressureSensor: PressureSensorConfiguration?
    /// The temperature controller, if the rig has one; its reading becomes every sample's `temperature_C`.
    public var temperatureController: TemperatureControllerConfiguration?

    public init(
        id: String, name: String, cell: CellDescription, limits: HardwareLimits,
        galvanostat: GalvanostatConfiguration, pressureSensor: PressureSensorConfiguration? = nil,
        temperatureController: TemperatureControllerConfiguration? = nil
    ) {
        self.temperatureController = temperatureController
        self.id = id
        self.name = name
        self.cell = cell
        self.limits = limits
        self.galvanostat = galvanostat
        self.pressureSensor = pressureSensor
    }
}

extension RigDescription {
    /// The highest temperature setpoint the rig accepts, from its temperature controller or its simulated heater;
    /// nil when the rig cannot set the temperature.
    public var maximumTemperatureSetpoint_C: Double? {
        if let temperatureController { return temperatureController.maximumSetpoint_C }
        if case .simulated(let simulated) = galvanostat, let heater = simulated.heater {
            return heater.maximumSetpoint_C
        }
        return nil
    }
}

/// Who an instrument is: recorded with every run so data can be traced to hardware.
public struct InstrumentIdentity: Sendable, Hashable, Codable {
    /// What it does on the rig: `galvanostat`, `pressure`, `temperature`.
    public var role: String
    public var model: String
    public var firmware: String
    public var serialNumber: String
    /// Port path or `in-process`.
    public var port: String

    public init(role: String, model: String, firmware: String, serialNumber: String, port: String) {
        self.role = role
        self.model = model
        self.firmware = firmware
        self.serialNumber = serialNumber
        self.port = port
    }
}
