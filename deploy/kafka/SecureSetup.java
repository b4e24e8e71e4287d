// The SCRAM user and ACLs of the local brokers' SASL_SSL listener (deploy/local/stack.py).
// Run with Java's single-file launcher and the Kafka jars, through the PLAINTEXT listener, whose
// principal (User:ANONYMOUS) is a super user:
//   java -cp '<kafka libs>/*' SecureSetup.java BOOTSTRAP (USER PASSWORD GROUP_PREFIX TOPIC,TOPIC...)...
// One run for several principals (a JVM start costs seconds). Idempotent: credentials are
// upserted and ACLs that exist already are created again as no-ops.

import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class SecureSetup {
    private static final List<AclOperation> TOPIC_OPS = List.of(
        AclOperation.READ, AclOperation.WRITE, AclOperation.DESCRIBE, AclOperation.CREATE,
        AclOperation.DESCRIBE_CONFIGS);
    private static final List<AclOperation> GROUP_OPS = List.of(
        AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE);

    public static void main(String[] args) throws Exception {
        if (args.length < 5 || (args.length - 1) % 4 != 0) {
            System.err.println("usage: SecureSetup BOOTSTRAP (USER PASSWORD GROUP_PREFIX TOPICS)...");
            System.exit(2);
        }
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 60000);
        List<UserScramCredentialUpsertion> users = new ArrayList<>();
        List<AclBinding> acls = new ArrayList<>();
        for (int at = 1; at < args.length; at += 4) {
            String user = args[at], password = args[at + 1], groupPrefix = args[at + 2];
            String principal = "User:" + user;
            users.add(new UserScramCredentialUpsertion(
                user, new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password));
            for (String topic : args[at + 3].split(",")) {
                for (AclOperation op : TOPIC_OPS) {
                    acls.add(allow(principal, ResourceType.TOPIC, topic, PatternType.LITERAL, op));
                }
            }
            for (AclOperation op : GROUP_OPS) {
                acls.add(allow(principal, ResourceType.GROUP, groupPrefix, PatternType.PREFIXED,
                               op));
            }
            acls.add(allow(principal, ResourceType.CLUSTER, "kafka-cluster", PatternType.LITERAL,
                           AclOperation.DESCRIBE));
        }
        try (Admin admin = Admin.create(props)) {
            admin.alterUserScramCredentials(new ArrayList<>(users)).all().get();
            admin.createAcls(acls).all().get();
        }
        System.out.println("secured " + users.size() + " principal(s)");
    }

    private static AclBinding allow(String principal, ResourceType type, String name,
                                    PatternType pattern, AclOperation op) {
        return new AclBinding(new ResourcePattern(type, name, pattern),
                              new AccessControlEntry(principal, "*", op, AclPermissionType.ALLOW));
    }
}
