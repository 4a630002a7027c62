import Domain

/// Reads rig descriptions (`rigs/*.yaml`, schema 1): the cell on the rig, its instruments and their limits.
public enum RigFile {
    static let topLevelKeys = [
        "schema", "id", "name", "cell", "limits", "galvanostat", "pressure_sensor", "temperature_controller",
    ]
    static let cellKeys = [
        "label", "metal", "electrolyte", "electrolyte_thickness", "electrolyte_conductivity", "electrode_area",
        "reference_area",
        "metal_thickness", "pretreatment", "stack_pressure", "temperature",
    ]
    static let simulatedKeys = [
        "driver", "speed", "seed", "model", "preset", "parameters", "bulk_resistance", "interfacial_resistance",
        "critical_current_density",
        "short_delay", "short_resistance", "noise", "heater",
    ]

    /// Parses rig text; `file` is used in error messages only.
    public static func parse(_ text: String, file: String) throws(FileError) -> RigDescription {
        let root = try parseRoot(text, file: file)
        let top = try root.mapping(allowedKeys: topLevelKeys)
        let schemaNode = try top.required("schema")
        let schema = try schemaNode.integer(range: 1...1000)
        guard schema == ProtocolFile.supportedSchema else {
            throw schemaNode.error("schema \(schema) is not supported", value: String(schema), allowed: "1")
        }
        let idNode = try top.required("id")
        let id = try idNode.string()
        guard id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw idNode.error("'\(id)' is not a rig id", value: id, allowed: "letters, digits, '-' and '_'")
        }
        let name = try top.optional("name")?.string() ?? id
        let cell = try cellDescription(try top.required("cell"))
        let limitsReader = try top.required("limits").mapping(allowedKeys: ["voltage", "current"])
        let limits = HardwareLimits(
            voltage_V: try limitsReader.required("voltage").quantity(.voltage, range: 1e-3...20),
            current_A: try limitsReader.required("current").quantity(.current, range: 1e-12...10))
        let galvanostat = try galvanostatConfiguration(try top.required("galvanostat"))
        let pressureSensor = try top.optional("pressure_sensor").map { node throws(FileError) in
            try pressureSensorConfiguration(node)
        }
        let temperatureController = try top.optional("temperature_controller").map { node throws(FileError) in
            try temperatureControllerConfiguration(node)
        }
        return RigDescription(
            id: id, name: name, cell: cell, limits: limits, galvanostat: galvanostat, pressureSensor: pressureSensor,
            temperatureController: temperatureController)
    }

    static func cellDescription(_ node: LocatedNode) throws(FileError) -> CellDescription {
        let reader = try node.mapping(allowedKeys: cellKeys)
        let metalText = try reader.required("metal").word(allowed: AnodeMetal.allCases.map(\.rawValue))
        return CellDescription(
            label: try reader.optional("label")?.string(),
            metal: AnodeMetal(rawValue: metalText)!,
            electrolyte: try reader.required("electrolyte").string(),
            electrolyteThickness_um: try reader.optional("electrolyte_thickness")?.quantity(.length, range: 1e-3...1e5),
            electrolyteConductivity_S_cm: try reader.optional("electrolyte_conductivity").map {
                node throws(FileError) in try node.quantity(.conductivity, range: 1e-6...1e4) * 1e-3
            },
            electrodeArea_cm2: try reader.required("electrode_area").quantity(.area, range: 1e-10...1000),
            referenceArea_cm2: try reader.optional("reference_area")?.quantity(.area, range: 1e-10...1000),
            metalThickness_um: try reader.optional("metal_thickness")?.quantity(.length, range: 1e-3...1e5),
            pretreatment: try reader.optional("pretreatment")?.string(),
            stackPressure_MPa: try reader.optional("stack_pressure")?.quantity(.pressure, range: 0...1000),
            temperature_C: try reader.optional("temperature")?.quantity(.temperature, range: -100...500))
    }

    static func galvanostatConfiguration(_ node: LocatedNode) throws(FileError) -> GalvanostatConfiguration {
        let driver = try node.mapping(allowedKeys: try node.keys()).required("driver").word(
            allowed: galvanostatDrivers)
        switch driver {
        case "methodscript": return .methodScript(try methodScriptConfiguration(node))
        case "keithley2400": return .keithley2400(try keithley2400Configuration(node))
        default: return .simulated(try simulatedConfiguration(node))
        }
    }

    static func simulatedConfiguration(_ node: LocatedNode) throws(FileError) -> SimulatedCellConfiguration {
        let reader = try node.mapping(allowedKeys: simulatedKeys)
        var configuration = SimulatedCellConfiguration()
        if let speedNode = reader.optional("speed") {
            let text = try speedNode.scalarText(expecting: "`max` or cell seconds per wall second")
            if text == "max" {
                configuration.speed = .unlimited
            } else if let factor = Double(text), factor > 0, factor.isFinite {
                configuration.speed = .factor(factor)
            } else {
                throw speedNode.error(
                    "'\(text)' is not a speed", value: text,
                    allowed: "`max`, or a positive number of cell seconds per wall second (1 is real time)")
            }
        }
        if let seed = reader.optional("seed") { configuration.seed = UInt64(try seed.integer(range: 0...Int.max)) }
        if let value = try reader.optional("bulk_resistance")?.quantity(.arealResistance, range: 0...1e7) {
            configuration.bulkResistance_Ohm_cm2 = value
        }
        if let value = try reader.optional("interfacial_resistance")?.quantity(.arealResistance, range: 0...1e7) {
            configuration.interfacialResistance_Ohm_cm2 = value
        }
        if let value = try reader.optional("critical_current_density")?.quantity(.currentDensity, range: 1e-6...1e4) {
            configuration.criticalCurrentDensity_mA_cm2 = value
        }
        if let value = try reader.optional("short_delay")?.quantity(.time, range: 0...1e6) {
            configuration.shortDelay_s = value
        }
        if let value = try reader.optional("short_resistance")?.quantity(.resistance, range: 1e-6...1e9) {
            configuration.shortResistance_Ohm = value
        }
        if let value = try reader.optional("noise")?.quantity(.voltage, range: 0...1) { configuration.noise_V = value }
        let modelName = try reader.optional("model")?.word(allowed: ["ohmic", "physics"]) ?? "ohmic"
        if modelName == "physics" {
            let preset = try reader.required("preset").string()
            configuration.model = .physics(preset: preset)
            let ohmicOnly = [
                "bulk_resistance", "interfacial_resistance", "critical_current_density", "short_delay",
                "short_resistance", "noise",
            ]
            if let key = ohmicOnly.first(where: reader.has), let node = reader.optional(key) {
                throw node.error(
                    "`\(key)` belongs to the ohmic model; the physics model takes its values under `parameters:`")
            }
        } else if let node = reader.optional("preset") ?? reader.optional("parameters") {
            throw node.error("presets and `parameters:` need `model: physics`")
        }
        if let heaterNode = reader.optional("heater") {
            guard modelName == "physics" else {
                throw heaterNode.error("a heater needs `model: physics` (the ohmic model has no temperature)")
            }
            let heater = try heaterNode.mapping(allowedKeys: ["max_setpoint", "time_constant"])
            var simulated = SimulatedHeater()
            if let value = try heater.optional("max_setpoint")?.quantity(.temperature, range: -100...500) {
                simulated.maximumSetpoint_C = value
            }
            if let value = try heater.optional("time_constant")?.quantity(.time, range: 1...86_400) {
                simulated.timeConstant_s = value
            }
            configuration.heater = simulated
        }
        if let parametersNode = reader.optional("parameters") {
            let names = try parametersNode.keys()
            let entries = try parametersNode.mapping(allowedKeys: names)
            for name in names {
                let value = try entries.required(name)
                configuration.parameters.append(
                    SimulatedCellParameter(
                        name: name, text: try value.scalarText(expecting: "a number"), line: value.line,
                        column: value.column))
            }
        }
        return configuration
    }
}
