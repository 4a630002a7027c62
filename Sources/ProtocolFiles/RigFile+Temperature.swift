import Domain

/// The optional `temperature_controller:` of a rig file: a Modbus RTU PID controller, by preset or register map.
extension RigFile {
    static let temperatureControllerKeys =
        lineKeys + [
            "preset", "model", "serial_number", "station", "process_value_register", "process_value_registers",
            "setpoint_register", "output_enable", "decimal_places", "signed", "reply_timeout", "reading_interval",
            "max_setpoint", "at_run_end",
        ]

    static func temperatureControllerConfiguration(_ node: LocatedNode) throws(FileError)
        -> TemperatureControllerConfiguration
    {
        let reader = try node.mapping(allowedKeys: temperatureControllerKeys)
        _ = try reader.required("driver").word(allowed: ["modbus"])
        let line = try serialLine(reader, defaultBaud: 9600, defaultParity: .none)
        var configuration: TemperatureControllerConfiguration
        if let presetNode = reader.optional("preset") {
            let name = try presetNode.word(allowed: TemperatureControllerConfiguration.Preset.allCases.map(\.rawValue))
            configuration = TemperatureControllerConfiguration(preset: .init(rawValue: name)!, line: line)
        } else {
            let missing = ["process_value_register", "setpoint_register"].filter { !reader.has($0) }
            if let key = missing.first {
                throw node.error(
                    "a temperature controller without a preset needs `\(key)`",
                    allowed: "`preset: "
                        + TemperatureControllerConfiguration.Preset.allCases.map(\.rawValue).joined(separator: ", ")
                        + "`, or `process_value_register` and `setpoint_register` from the controller's manual")
            }
            configuration = TemperatureControllerConfiguration(
                line: line, processValueRegister: 0, setpointRegister: 0)
        }
        if let node = reader.optional("process_value_register") {
            configuration.processValueRegister = try node.integer(range: 0...65_535)
        }
        if let node = reader.optional("process_value_registers") {
            configuration.processValueKind = .init(
                rawValue: try node.word(allowed: ModbusLoadCellConfiguration.RegisterKind.allCases.map(\.rawValue)))!
        }
        if let node = reader.optional("setpoint_register") {
            configuration.setpointRegister = try node.integer(range: 0...65_535)
        }
        if let node = reader.optional("output_enable") {
            if (try? node.scalarText(expecting: "none")) == "none" {
                configuration.outputEnable = nil
            } else {
                let entries = try node.mapping(allowedKeys: ["register", "on", "off"])
                configuration.outputEnable = .init(
                    register: try entries.required("register").integer(range: 0...65_535),
                    enabledValue: try entries.required("on").integer(range: 0...65_535),
                    disabledValue: try entries.required("off").integer(range: 0...65_535))
            }
        }
        if let node = reader.optional("model") { configuration.model = try node.string() }
        if let node = reader.optional("serial_number") { configuration.serialNumber = try node.string() }
        if let node = reader.optional("station") { configuration.stationAddress = try node.integer(range: 1...247) }
        if let node = reader.optional("decimal_places") { configuration.decimalPlaces = try node.integer(range: 0...3) }
        if let node = reader.optional("signed") { configuration.signed = try node.boolean() }
        if let value = try reader.optional("reply_timeout")?.quantity(.time, range: 0.01...600) {
            configuration.replyTimeout_s = value
        }
        if let value = try reader.optional("reading_interval")?.quantity(.time, range: 0...86_400) {
            configuration.readingInterval_s = value
        }
        if let node = reader.optional("max_setpoint") {
            let value = try node.quantity(.temperature, range: -100...500)
            guard configuration.registerValue(temperature_C: value) != nil else {
                throw node.error(
                    "\(formatNumber(value)) C does not fit a 16-bit register with \(configuration.decimalPlaces) "
                        + "decimal places",
                    value: formatNumber(value), allowed: "fewer decimal_places, or a lower max_setpoint")
            }
            configuration.maximumSetpoint_C = value
        }
        if let node = reader.optional("at_run_end") {
            configuration.atRunEnd = .init(
                rawValue: try node.word(
                    allowed: TemperatureControllerConfiguration.AtRunEnd.allCases.map(\.rawValue)))!
        }
        return configuration
    }
}
