import Domain

/// The serial instruments of a rig file: galvanostats on a port and the optional `pressure_sensor:`.
extension RigFile {
    static let galvanostatDrivers = ["simulated", "methodscript", "keithley2400"]
    static let lineKeys = ["driver", "port", "baud", "data_bits", "parity", "stop_bits", "flow_control"]
    static let methodScriptKeys =
        lineKeys + ["max_script_duration", "reply_timeout", "mains_frequency", "current_sign"]
    static let keithleyKeys =
        lineKeys + ["wiring", "open_circuit", "remote_sense", "integration_plc", "reply_timeout", "output_interlock"]
    static let pressureKeys = ["driver", "calibration", "pellet_area", "reading_interval", "capacity"]
    static let mark10Keys = lineKeys + pressureKeys + ["compression_positive", "reply_timeout"]
    static let modbusKeys =
        lineKeys + pressureKeys + [
            "model", "serial_number", "station", "registers", "register", "value_type", "byte_order", "word_order",
            "newtons_per_count", "zero_command", "reply_timeout",
        ]

    /// `port`, `baud`, `data_bits`, `parity`, `stop_bits`, `flow_control`; `baud` defaults to the driver's.
    static func serialLine(_ reader: MappingReader, defaultBaud: Int, defaultParity: SerialLineConfiguration.Parity)
        throws(FileError) -> SerialLineConfiguration
    {
        let portNode = try reader.required("port")
        let port = try portNode.string()
        if port.hasPrefix("usb:") {
            let fields = port.dropFirst(4).split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count >= 2, fields[0].count == 4, fields[1].count == 4, UInt16(fields[0], radix: 16) != nil,
                UInt16(fields[1], radix: 16) != nil
            else {
                throw portNode.error(
                    "'\(port)' is not a USB identity", value: port,
                    allowed: "usb:VID:PID or usb:VID:PID:SERIAL with 4-digit hex IDs, e.g. usb:2a03:0043:ES4-1234")
            }
        } else if !port.hasPrefix("/") {
            throw portNode.error(
                "'\(port)' is not a port", value: port,
                allowed: "an absolute device path (/dev/ttyACM0, /dev/serial/by-id/...) or usb:VID:PID[:SERIAL]")
        }
        var line = SerialLineConfiguration(port: port, baudRate: defaultBaud, parity: defaultParity)
        if let node = reader.optional("baud") {
            let baud = try node.integer(range: 50...4_000_000)
            guard supportedBaudRates.contains(baud) else {
                throw node.error(
                    "\(baud) baud is not a standard rate", value: String(baud),
                    allowed: supportedBaudRates.map(String.init).joined(separator: ", "))
            }
            line.baudRate = baud
        }
        if let node = reader.optional("data_bits") { line.dataBits = try node.integer(range: 5...8) }
        if let node = reader.optional("parity") {
            line.parity = .init(
                rawValue: try node.word(allowed: SerialLineConfiguration.Parity.allCases.map(\.rawValue)))!
        }
        if let node = reader.optional("stop_bits") { line.stopBits = try node.integer(range: 1...2) }
        if let node = reader.optional("flow_control") {
            line.flowControl = .init(
                rawValue: try node.word(allowed: SerialLineConfiguration.FlowControl.allCases.map(\.rawValue)))!
        }
        return line
    }

    static let supportedBaudRates = [
        1200, 2400, 4800, 9600, 19200, 38400, 57600, 115_200, 230_400, 460_800, 921_600, 1_000_000, 2_000_000,
        3_000_000, 4_000_000,
    ]

    static func methodScriptConfiguration(_ node: LocatedNode) throws(FileError) -> MethodScriptConfiguration {
        let reader = try node.mapping(allowedKeys: methodScriptKeys)
        var configuration = MethodScriptConfiguration(
            line: try serialLine(reader, defaultBaud: 921_600, defaultParity: .none))
        if let value = try reader.optional("max_script_duration")?.quantity(.time, range: 1...86_400) {
            configuration.maximumScriptDuration_s = value
        }
        if let value = try reader.optional("reply_timeout")?.quantity(.time, range: 0.01...600) {
            configuration.replyTimeout_s = value
        }
        if let node = reader.optional("mains_frequency") {
            let value = try node.quantity(.frequency)
            guard value == 50 || value == 60 else {
                throw node.error(
                    "mains frequency must be 50 or 60 Hz", value: formatNumber(value), allowed: "50 Hz, 60 Hz")
            }
            configuration.mainsFrequency_Hz = Int(value)
        }
        if let node = reader.optional("current_sign") {
            configuration.currentSign = .init(
                rawValue: try node.word(allowed: MethodScriptConfiguration.CurrentSign.allCases.map(\.rawValue)))!
        }
        return configuration
    }

    static func keithley2400Configuration(_ node: LocatedNode) throws(FileError) -> Keithley2400Configuration {
        let reader = try node.mapping(allowedKeys: keithleyKeys)
        var configuration = Keithley2400Configuration(
            line: try serialLine(reader, defaultBaud: 9600, defaultParity: .none))
        if let node = reader.optional("wiring") {
            configuration.wiring = .init(
                rawValue: try node.word(allowed: Keithley2400Configuration.Wiring.allCases.map(\.rawValue)))!
        }
        if let node = reader.optional("open_circuit") {
            configuration.openCircuit = .init(
                rawValue: try node.word(allowed: Keithley2400Configuration.OpenCircuit.allCases.map(\.rawValue)))!
        }
        if let node = reader.optional("remote_sense") { configuration.remoteSense = try node.boolean() }
        if let node = reader.optional("integration_plc") {
            let text = try node.scalarText(expecting: "power-line cycles, 0.01 to 10")
            guard let value = Double(text), (0.01...10).contains(value) else {
                throw node.error(
                    "'\(text)' is not an integration time", value: text, allowed: "0.01 to 10 (power-line cycles)")
            }
            configuration.integrationPowerLineCycles = value
        }
        if let value = try reader.optional("reply_timeout")?.quantity(.time, range: 0.01...600) {
            configuration.replyTimeout_s = value
        }
        if let node = reader.optional("output_interlock") {
            switch try node.scalarText(expecting: "off, line, or the watchdog's hold time") {
            case "off": configuration.outputInterlock = nil
            case "line": configuration.outputInterlock = .line
            default: configuration.outputInterlock = .watchdog(holdTime_s: try node.quantity(.time, range: 0.1...3600))
            }
        }
        return configuration
    }

    static func pressureSensorConfiguration(_ node: LocatedNode) throws(FileError) -> PressureSensorConfiguration {
        let driver = try node.mapping(allowedKeys: try node.keys()).required("driver").word(allowed: [
            "mark10", "modbus",
        ])
        let reader = try node.mapping(allowedKeys: driver == "mark10" ? mark10Keys : modbusKeys)
        let sensor: PressureSensorConfiguration.Driver
        if driver == "mark10" {
            var configuration = Mark10Configuration(
                line: try serialLine(reader, defaultBaud: 115_200, defaultParity: .none))
            if let node = reader.optional("compression_positive") {
                configuration.compressionIsPositive = try node.boolean()
            }
            if let value = try reader.optional("reply_timeout")?.quantity(.time, range: 0.01...600) {
                configuration.replyTimeout_s = value
            }
            sensor = .mark10(configuration)
        } else {
            sensor = .modbus(try modbusConfiguration(reader))
        }
        let pelletArea = try reader.required("pellet_area").quantity(.area, range: 1e-6...1000)
        var calibration = StackPressureCalibration(pelletArea_cm2: pelletArea)
        if let calibrationNode = reader.optional("calibration") {
            let entries = try calibrationNode.mapping(allowedKeys: ["scale", "offset"])
            if let node = entries.optional("scale") {
                calibration.scale = try plainNumber(node, range: 1e-6...1e6, unit: nil)
                guard calibration.scale != 0 else { throw node.error("the scale must not be 0") }
            }
            if let node = entries.optional("offset") {
                calibration.offset_N = try plainNumber(node, range: -1e6...1e6, unit: "N")
            }
        }
        var configuration = PressureSensorConfiguration(driver: sensor, calibration: calibration)
        if let value = try reader.optional("reading_interval")?.quantity(.time, range: 0...86_400) {
            configuration.readingInterval_s = value
        }
        if let node = reader.optional("capacity") {
            let capacity = try plainNumber(node, range: 0...1e7, unit: "N")
            guard capacity > 0 else { throw node.error("the capacity must be positive", value: "0") }
            configuration.capacity_N = capacity
        }
        return configuration
    }

    static func modbusConfiguration(_ reader: MappingReader) throws(FileError) -> ModbusLoadCellConfiguration {
        let line = try serialLine(reader, defaultBaud: 19200, defaultParity: .even)
        let register = try reader.required("register").integer(range: 0...65_535)
        let valueType = ModbusLoadCellConfiguration.ValueType(
            rawValue: try reader.required("value_type").word(
                allowed: ModbusLoadCellConfiguration.ValueType.allCases.map(\.rawValue)))!
        let scaleNode = try reader.required("newtons_per_count")
        let scale = try plainNumber(scaleNode, range: -1e9...1e9, unit: nil)
        guard scale != 0 else { throw scaleNode.error("newtons per count must not be 0") }
        var configuration = ModbusLoadCellConfiguration(
            line: line, register: register, valueType: valueType, newtonsPerCount: scale)
        if let node = reader.optional("model") { configuration.model = try node.string() }
        if let node = reader.optional("serial_number") { configuration.serialNumber = try node.string() }
        if let node = reader.optional("station") { configuration.stationAddress = try node.integer(range: 1...247) }
        if let node = reader.optional("registers") {
            configuration.registerKind = .init(
                rawValue: try node.word(allowed: ModbusLoadCellConfiguration.RegisterKind.allCases.map(\.rawValue)))!
        }
        if let node = reader.optional("word_order") {
            let written = try node.scalarText(expecting: "a byte order")
            throw node.error(
                "word_order is replaced by byte_order (high-word-first is ABCD, low-word-first is CDAB)",
                value: written, allowed: "byte_order: " + byteOrders)
        }
        if let node = reader.optional("byte_order") {
            configuration.byteOrder = .init(rawValue: try node.word(allowed: byteOrderNames))!
        }
        if let node = reader.optional("zero_command") {
            let entries = try node.mapping(allowedKeys: ["register", "value"])
            configuration.zeroCommand = .init(
                register: try entries.required("register").integer(range: 0...65_535),
                value: try entries.required("value").integer(range: 0...65_535))
        }
        if let value = try reader.optional("reply_timeout")?.quantity(.time, range: 0.01...600) {
            configuration.replyTimeout_s = value
        }
        return configuration
    }

    static let byteOrderNames = ModbusLoadCellConfiguration.ByteOrder.allCases.map(\.rawValue)
    static let byteOrders = byteOrderNames.joined(separator: ", ")

    /// A number, optionally followed by `unit` (`-2`, `-2 N`).
    static func plainNumber(_ node: LocatedNode, range: ClosedRange<Double>, unit: String?) throws(FileError) -> Double
    {
        let what = unit.map { "a number of \($0)" } ?? "a number"
        var text = try node.scalarText(expecting: what)
        if let unit, text.hasSuffix(unit) { text = String(text.dropLast(unit.count)).trimmingCharacters(in: " ") }
        let written = try node.scalarText(expecting: what)
        guard let value = Double(text), value.isFinite else {
            throw node.error("'\(written)' is not \(what)", value: written, allowed: what)
        }
        guard range.contains(value) else {
            throw node.error(
                "'\(written)' is out of range", value: written,
                allowed: "\(formatNumber(range.lowerBound)) to \(formatNumber(range.upperBound))"
                    + (unit.map { " \($0)" } ?? ""))
        }
        return value
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var text = Substring(self)
        while text.first == set { text = text.dropFirst() }
        while text.last == set { text = text.dropLast() }
        return String(text)
    }
}
