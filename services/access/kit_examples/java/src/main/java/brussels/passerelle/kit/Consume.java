package brussels.passerelle.kit;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;

/**
 * Reads one topic of the partner kit with the plain Kafka client, in the kit's consumer group,
 * prints each event (its JSON envelope) on a line, commits, and stops at the end of the topic.
 *
 * <p>java -cp "target/classes:target/lib/*" brussels.passerelle.kit.Consume CLIENT_PROPERTIES TOPIC [GROUP]
 *
 * <p>Relative paths in the properties (ca.crt) are read from the properties file's directory.
 */
public final class Consume {
  private Consume() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 2) {
      System.err.println("usage: Consume CLIENT_PROPERTIES TOPIC [GROUP]");
      System.exit(2);
    }
    Path config = Path.of(args[0]).toAbsolutePath();
    Properties props = new Properties();
    try (InputStream in = new FileInputStream(config.toFile())) {
      props.load(in);
    }
    String truststore = props.getProperty("ssl.truststore.location");
    if (truststore != null && !Path.of(truststore).isAbsolute()) {
      props.setProperty("ssl.truststore.location", config.getParent().resolve(truststore).toString());
    }
    if (args.length > 2) {
      props.setProperty("group.id", args[2]);
    }
    long events = 0;
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
      consumer.subscribe(List.of(args[1]));
      Map<TopicPartition, Long> ends = null;
      while (true) {
        ConsumerRecords<String, String> records = consumer.poll(Duration.ofSeconds(2));
        for (ConsumerRecord<String, String> record : records) {
          System.out.println(record.value());
          events++;
        }
        consumer.commitSync();
        Set<TopicPartition> assigned = consumer.assignment();
        if (assigned.isEmpty()) {
          continue;
        }
        if (ends == null) {
          ends = consumer.endOffsets(assigned);
        }
        boolean done = true;
        for (Map.Entry<TopicPartition, Long> end : ends.entrySet()) {
          if (consumer.position(end.getKey()) < end.getValue()) {
            done = false;
          }
        }
        if (done) {
          break;
        }
      }
    }
    System.err.println(events + " events read from " + args[1]);
  }
}
